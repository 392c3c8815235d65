"""Rendering pages: one Jinja2 environment over the packaged templates, the cookies a response
sets, and the services' errors turned into pages (a thing the visitor may not see is a 404 page,
never a hint that it exists)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ValidationError

from aicommons.console.deps import (
    CSRF_COOKIE,
    CsrfRefused,
    SignInRequired,
    Visitor,
    visitor_of,
)
from aicommons.core.errors import AicommonsError, Invalid

environment = Environment(
    loader=PackageLoader("aicommons.console", "templates"), autoescape=select_autoescape(default=True),
    trim_blocks=True, lstrip_blocks=True,
)


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    """Every console cookie is HTTP-only, Secure and SameSite=Lax (browsers accept Secure cookies
    from http://localhost and 127.0.0.1, so a local `make run` signs in too)."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, secure=True, samesite="lax", path="/")


def render(request: Request, visitor: Visitor, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` for this visitor; `partial` is true for htmx requests, which swap a fragment."""
    html = environment.get_template(template).render(
        request=request, visitor=visitor, actor=visitor.actor, csrf_token=visitor.csrf_token,
        lang=visitor.translator.language, html_lang=visitor.translator.html_lang,
        partial=request.headers.get("hx-request") == "true", **visitor.translator.functions(), **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    # A page and the fragment htmx polls for share a URL: without this, a browser's Back button
    # can show the cached bare fragment.
    response.headers["Vary"] = "HX-Request"
    if visitor.csrf_cookie_missing:
        set_cookie(response, CSRF_COOKIE, visitor.csrf_token)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def form_refusal(
    page: Callable[..., Response], *args: Any, form: Mapping[str, Any]
) -> Callable[[str, str], Response]:
    """How a form's handler answers a refused field: `page(*args)` again with a 422, the values as
    typed (so nothing is typed twice) and the message beside the field it concerns."""

    def refused(field: str, message: str) -> Response:
        return page(*args, status_code=422, form=form, errors={field: message})

    return refused


SchemaT = TypeVar("SchemaT", bound=BaseModel)


def refused_fields(error: ValidationError) -> list[str]:
    """The top-level fields a service's schema refused, in the order it names them, each once
    (a refused tag of a list is the list's field)."""
    return list(dict.fromkeys(str(e["loc"][0]) for e in error.errors() if e["loc"]))


def as_schema(schema: type[SchemaT], values: Mapping[str, Any], messages: Mapping[str, str]) -> tuple[SchemaT | None, dict[str, str]]:
    """A form's values as the service's schema, or None and, for every field the schema refused,
    the form's message for it (so a form names all its wrong fields at once)."""
    try:
        return schema(**values), {}
    except ValidationError as error:
        return None, {field: messages[field] for field in refused_fields(error) if field in messages}


_TITLES = {400: "The request cannot be served", 422: "The request cannot be served", 403: "Not allowed", 404: "Not found", 409: "Conflict"}


def error_page(request: Request, error: AicommonsError) -> Response:
    if isinstance(error, SignInRequired):
        return redirect(f"/sign-in?next={quote(request.url.path)}")
    visitor = visitor_of(request, None)
    status = 403 if isinstance(error, CsrfRefused) else error.status
    if status == 401:  # a token or session that no longer works: sign in again
        return redirect("/sign-in")
    return render(request, visitor, "error.html", status_code=status,
                  title=_TITLES.get(status, "Something went wrong"), message=error.message)


class ConsoleRoute(APIRoute):
    """Routes whose service errors become HTML pages instead of the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except AicommonsError as error:
                return error_page(request, error)
            except RequestValidationError as error:  # a hand-edited URL or form: a page, not the API's JSON
                first = error.errors()[0]
                where = ".".join(str(part) for part in first.get("loc", ()))
                return error_page(request, Invalid(f"The '{where}' value is not accepted: {first.get('msg', '')}."))

        return handle
