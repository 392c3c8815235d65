"""Every error leaves the API as `{"error": {"code": ..., "message": ...}}` with a 4xx/5xx status."""

from __future__ import annotations

import logging
import math
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from aicommons.core.errors import AicommonsError

log = logging.getLogger("aicommons.api")

_HTTP_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 409: "conflict"}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
    return f"{location}: {error.get('msg', 'is invalid')}"


def aicommons_error_response(exc: AicommonsError) -> JSONResponse:
    """A service's refusal as the API answers it (also for routes outside FastAPI's handlers)."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if (retry_after := getattr(exc, "retry_after", None)) is not None:
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    # The field at fault, listed as request validation lists its fields.
    fields = {"fields": [{"loc": ["body", exc.field], "msg": exc.message, "type": exc.code}]} if exc.field else {}
    return JSONResponse(error_body(exc.code, exc.message, **fields), status_code=exc.status, headers=headers)


def unexpected_error_response(method: str, path: str, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", method, path, exc_info=exc)
    return JSONResponse(error_body("internal", "An unexpected error occurred; nothing was saved."), 500)


async def _aicommons_error(request: Request, exc: AicommonsError) -> JSONResponse:
    return aicommons_error_response(exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid").get("ctx", {}).get("error", "")
        return JSONResponse(error_body("malformed_json", f"The request body is not valid JSON: {detail}."), 400)
    sent_json = "json" in request.headers.get("content-type", "")
    if not sent_json and any(
        tuple(e.get("loc", ())) == ("body",) and e.get("type") == "model_attributes_type" for e in errors
    ):
        # No JSON at all: usually a form-encoded body (curl -d without a Content-Type).
        message = "The request body must be a JSON object sent with `Content-Type: application/json`."
        return JSONResponse(error_body("malformed_json", message), 400)
    message = "The request is invalid: " + "; ".join(_describe(e) for e in errors) + "."
    fields = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
    return JSONResponse(error_body("invalid", message, fields=fields), status_code=422)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def _integrity_error(request: Request, exc: sqlalchemy.exc.IntegrityError) -> JSONResponse:
    # A uniqueness race the service's own check could not see (two requests at once).
    return JSONResponse(error_body("conflict", "The change conflicts with a stored record; nothing was saved."), 409)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_error_response(request.method, request.url.path, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AicommonsError, _aicommons_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(sqlalchemy.exc.IntegrityError, _integrity_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
