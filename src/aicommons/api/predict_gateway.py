"""The predict call's own path into the app, ahead of FastAPI's per-request layers.

`POST /api/v1/endpoints/{name}/predict` is the platform's hot path: a small model answers in
tens of microseconds, while routing a request through FastAPI (its middleware stack, exception
and telemetry layers, the router's scan, the response model) cost about 150 µs of one core on
this machine. The app (`api.app.PlatformApp`) hands exactly that call to `PredictGateway`
before FastAPI sees it; the gateway answers it through the same functions the FastAPI route
uses (`routes.serving`), with the same error bodies (`api.errors`). The route stays declared
in FastAPI for the OpenAPI schema, and still answers where the app is mounted under another.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import Receive, Scope, Send

from aicommons.api.errors import aicommons_error_response, unexpected_error_response
from aicommons.api.routes.serving import predict_json, refuse_oversized_body
from aicommons.core.errors import AicommonsError, Invalid
from aicommons.serving import app_host

JSON_HEADERS = [(b"content-type", b"application/json")]


class PredictGateway:
    def __init__(self, platform: Any, prefix: str):
        self.platform = platform  # the FastAPI app, whose state holds the runtime and the serving host
        self.pattern = re.compile(re.escape(prefix) + r"/endpoints/([^/]+)/predict")

    def endpoint_called(self, scope: Scope) -> str | None:
        """The endpoint's name when `scope` is a predict call, else None."""
        if scope["type"] == "http" and scope["method"] == "POST" and (match := self.pattern.fullmatch(scope["path"])):
            return match.group(1)
        return None

    async def answer(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        try:
            body = await _body(receive, int(headers.get(b"content-length") or 0))
            answer = await predict_json(
                app_host(self.platform.state), name, headers.get(b"authorization", b"").decode("latin-1"),
                headers.get(b"content-type", b"application/json").decode("latin-1"), body,
            )
        except AicommonsError as exc:
            await aicommons_error_response(exc)(scope, receive, send)
            return
        except Exception as exc:  # noqa: BLE001 - answered as the API answers any unexpected error
            await unexpected_error_response(scope["method"], scope["path"], exc)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*JSON_HEADERS, (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})


async def _body(receive: Receive, declared_length: int) -> bytes:
    refuse_oversized_body(declared_length)
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Invalid("The client went away before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        refuse_oversized_body(size)  # a body sent without its length, or longer than it said
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)
