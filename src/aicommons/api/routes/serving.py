"""Serving: deploy endpoints, call them (JSON, `.npy` arrays or images), read their usage and metrics."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from aicommons import serving
from aicommons.api.deps import ActorDep, SessionDep
from aicommons.core.errors import Invalid, Unauthenticated

router = APIRouter(tags=["serving"])
metrics_router = APIRouter(tags=["serving"])

MAX_BODY_BYTES = 32 << 20
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "image/tiff")


async def get_host(request: Request) -> serving.EndpointHost:
    return serving.app_host(request.app.state)


HostDep = Annotated[serving.EndpointHost, Depends(get_host)]


@router.post("/endpoints", response_model=serving.EndpointRead, status_code=201)
def deploy(spec: serving.EndpointCreate, session: SessionDep, actor: ActorDep) -> serving.EndpointRead:
    return serving.deploy(session, actor, spec)


@router.get("/endpoints", response_model=list[serving.EndpointRead])
def list_endpoints(session: SessionDep, actor: ActorDep) -> list[serving.EndpointRead]:
    return serving.list_endpoints(session, actor)


@router.get("/endpoints/{name}", response_model=serving.EndpointRead)
def get_endpoint(name: str, session: SessionDep, actor: ActorDep) -> serving.EndpointRead:
    return serving.get_endpoint(session, actor, name)


@router.patch("/endpoints/{name}", response_model=serving.EndpointRead)
def update_endpoint(name: str, change: serving.EndpointUpdate, session: SessionDep, actor: ActorDep) -> serving.EndpointRead:
    return serving.update_endpoint(session, actor, name, change)


@router.delete("/endpoints/{name}", response_model=serving.EndpointRead)
def delete_endpoint(name: str, session: SessionDep, actor: ActorDep) -> serving.EndpointRead:
    return serving.delete_endpoint(session, actor, name)


@router.get("/endpoints/{name}/usage", response_model=list[serving.UsageRead])
def endpoint_usage(name: str, session: SessionDep, actor: ActorDep, since: datetime | None = None) -> list[serving.UsageRead]:
    return serving.usage(session, actor, name, since=since)


@router.post(
    "/endpoints/{name}/predict",
    response_model=serving.PredictResponse,
    openapi_extra={"security": [{"HTTPBearer": []}], "requestBody": {"content": {
        "application/json": {"schema": serving.PredictRequest.model_json_schema()},
        "application/x-npy": {"schema": {"type": "string", "format": "binary"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
    }}},
)
async def predict(name: str, request: Request) -> serving.PredictResponse:
    """JSON `{"inputs": {name: arrays}}` or `{"instances": [...]}`; or a `numpy.save` array
    (`application/x-npy`) for a single-input model; or one image (`image/png`, `image/jpeg`, …).

    The API answers this call in `api.predict_gateway`, ahead of FastAPI; this route declares it
    for OpenAPI and answers it where the app runs without the gateway."""
    refuse_oversized_body(int(request.headers.get("content-length") or 0))
    answer = await predict_json(serving.app_host(request.app.state), name, request.headers.get("authorization", ""),
                                request.headers.get("content-type", "application/json"), await request.body())
    return Response(answer, media_type="application/json")  # type: ignore[return-value]


async def predict_json(host: serving.EndpointHost, name: str, authorization: str, content_type: str, body: bytes) -> bytes:
    """One predict call from its headers and body to the JSON answer; AicommonsError when refused."""
    result = await host.predict(_bearer_token(authorization), name, _payload(content_type, body))
    # Already a validated model: serialise it once, with no second validation on the way out.
    return result.model_dump_json().encode()


def refuse_oversized_body(length: int) -> None:
    if length > MAX_BODY_BYTES:
        raise Invalid(f"The request body is over {MAX_BODY_BYTES >> 20} MiB; send fewer instances per request.")


def _bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authentication required: send `Authorization: Bearer <token>`.")
    return token.strip()


def _payload(content_type: str, body: bytes) -> serving.Payload:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-npy":
        try:
            return serving.Payload(array=np.load(io.BytesIO(body), allow_pickle=False))
        except ValueError as exc:
            raise Invalid(f"The body is not a .npy array saved with numpy.save (object arrays are refused): {exc}") from None
    if kind in IMAGE_TYPES:
        return serving.Payload(instances=[body])
    if kind not in ("application/json", ""):
        raise Invalid(f"Unsupported Content-Type {kind!r}: send application/json, application/x-npy or an image type.")
    try:
        request = serving.PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"The request body is invalid: {problems}.") from None
    return serving.Payload(inputs=request.inputs, instances=request.instances)


@metrics_router.get("/metrics", include_in_schema=False)
def metrics(host: HostDep) -> Response:
    """Prometheus text format: request latency histograms, batch sizes, queue depth, compute."""
    body, content_type = host.metrics.render()
    return Response(body, media_type=content_type)
