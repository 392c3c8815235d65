"""The public filing registry (公示) and certificate check: open to everyone, signed in or not."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from aicommons import filing
from aicommons.console.deps import PostingVisitorDep, RuntimeDep, SessionDep, VisitorDep
from aicommons.console.pages import ConsoleRoute, render

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
MAX_CERTIFICATE_BYTES = 1 << 20
VERDICT_TITLES = {
    "valid": "The certificate is valid", "revoked": "The certificate is revoked",
    "tampered": "The certificate is not authentic", "unknown-key": "The certificate was not signed by this platform's key",
}


@router.get("/registry")
def registry_list(
    request: Request, session: SessionDep, visitor: VisitorDep,
    q: Annotated[str, Query(max_length=100)] = "", cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page = filing.search_registry(session, q=q or None, limit=PAGE_SIZE, cursor=cursor)
    return render(request, visitor, "registry/list.html", page=page, q=q)


@router.get("/registry/check")
def certificate_form(request: Request, visitor: VisitorDep) -> Response:
    return render(request, visitor, "registry/check.html", verdict=None, error=None, pasted="")


@router.post("/registry/check")
async def check_certificate(
    request: Request, session: SessionDep, visitor: PostingVisitorDep, runtime: RuntimeDep,
    certificate: Annotated[str, Form(max_length=MAX_CERTIFICATE_BYTES)] = "",
    upload: Annotated[UploadFile | None, File()] = None,
) -> Response:
    text = certificate
    if upload is not None and upload.filename:
        text = (await upload.read(MAX_CERTIFICATE_BYTES + 1)).decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or "payload" not in document:
        error = visitor.translator.gettext("Paste or upload a certificate: the JSON document with 'payload' and 'signature'.")
        return render(request, visitor, "registry/check.html", status_code=400, verdict=None, error=error, pasted=certificate)
    issuer = filing.Issuer.of(runtime)
    verdict = filing.check_certificate(document, filing.public_key_pem(issuer), filing.revocations(session, issuer))
    return render(request, visitor, "registry/check.html", verdict=verdict, verdict_title=VERDICT_TITLES[verdict.status],
                  error=None, pasted=certificate)


@router.get("/registry/{number}")
def registry_entry(request: Request, number: str, session: SessionDep, visitor: VisitorDep) -> Response:
    return render(request, visitor, "registry/entry.html", entry=filing.get_registry_entry(session, number))
