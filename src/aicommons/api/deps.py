"""Typed dependencies: the runtime, a transaction per request, and the authenticated actor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from aicommons.core.errors import Unauthenticated
from aicommons.core.identity import authenticate
from aicommons.core.permissions import Actor
from aicommons.core.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer aic_…`.")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    with runtime.session() as session:
        yield session


def get_actor(
    session: Annotated[Session, Depends(get_session, scope="function")],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Authentication required: send `Authorization: Bearer <token>`.")
    return authenticate(session, credentials.credentials)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ActorDep = Annotated[Actor, Depends(get_actor)]
