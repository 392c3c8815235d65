"""The observatory's reports: the quarterly statistics bulletin and the annual industry development report."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from aicommons.api.deps import ActorDep, SessionDep
from aicommons.observatory import reports

router = APIRouter(prefix="/observatory/reports", tags=["observatory"])

Format = Literal["html", "pdf"]


def _response(publication: reports.Publication) -> Response:
    return Response(
        publication.content, media_type=publication.media_type,
        headers={"Content-Disposition": f'inline; filename="{publication.filename}"'},
    )


@router.get("/bulletin", response_class=Response, responses={200: {"content": {"text/html": {}, "application/pdf": {}}}})
def bulletin(
    session: SessionDep, actor: ActorDep,
    quarter: Annotated[str, Query(description="The quarter reported, like 2026Q3.")],
    format: Annotated[Format, Query(description="html or pdf.")] = "html",
) -> Response:
    """The quarterly statistics bulletin (季度统计公报), for officials; rendered on request."""
    return _response(reports.publish_bulletin(session, actor, quarter, [format])[0])


@router.get("/annual", response_class=Response, responses={200: {"content": {"text/html": {}, "application/pdf": {}}}})
def annual(
    session: SessionDep, actor: ActorDep,
    year: Annotated[int, Query(description="The year reported, like 2026.")],
    format: Annotated[Format, Query(description="html or pdf.")] = "html",
) -> Response:
    """The annual AI industry development report (人工智能产业发展报告), for officials; rendered on request."""
    return _response(reports.publish_annual(session, actor, year, [format])[0])
