"""Filing (备案): applications, evidence, review, revocation and issued documents (with a token),
and the public registry (without one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import HTMLResponse, Response

from aicommons import filing
from aicommons.api.deps import ActorDep, RuntimeDep, SessionDep
from aicommons.core.schemas import Page

router = APIRouter(tags=["filing"])
# No ActorDep anywhere below: anyone may read the registry, check certificates and fetch the key.
registry_router = APIRouter(tags=["registry"])


@router.post("/filings", response_model=filing.FilingRead, status_code=201)
def create_filing(spec: filing.FilingCreate, session: SessionDep, actor: ActorDep) -> filing.FilingRead:
    """A draft filing of one of your org's model versions; `change_of` files a change to an approved one."""
    return filing.create_filing(session, actor, spec)


@router.get("/filings", response_model=Page[filing.FilingRead])
def list_filings(
    session: SessionDep,
    actor: ActorDep,
    status: filing.FilingStatus | None = None,
    model_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[filing.FilingRead]:
    """Your org's filings; platform reviewers also see every submitted filing."""
    return filing.list_filings(session, actor, status=status, model_id=model_id, limit=limit, cursor=cursor)


@router.get("/filings/{filing_id}", response_model=filing.FilingRead)
def get_filing(filing_id: str, session: SessionDep, actor: ActorDep) -> filing.FilingRead:
    return filing.get_filing(session, actor, filing_id)


@router.patch("/filings/{filing_id}", response_model=filing.FilingRead)
def update_filing(filing_id: str, change: filing.FilingUpdate, session: SessionDep, actor: ActorDep) -> filing.FilingRead:
    """Edit a draft, rejected or test-failed filing."""
    return filing.update_filing(session, actor, filing_id, change)


@router.post("/filings/{filing_id}/evidence", response_model=filing.EvidenceRead, status_code=201)
def attach_evidence(
    filing_id: str,
    file: Annotated[UploadFile, File(description="An evidence document for the ethics checklist (at most 20 MiB).")],
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
) -> filing.EvidenceRead:
    """Store a document; cite its sha256 in a checklist answer's `evidence`."""
    return filing.attach_evidence(session, runtime.blobs, actor, filing_id, file.file, file.filename or "evidence", file.content_type or "")


@router.get("/filings/{filing_id}/evidence/{sha256}")
def download_evidence(filing_id: str, sha256: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> Response:
    evidence = filing.evidence_file(session, actor, filing_id, sha256)
    headers = {"Content-Disposition": f'attachment; filename="{evidence.filename}"'}
    return Response(runtime.blobs.read_bytes(sha256), media_type=evidence.content_type, headers=headers)


@router.post("/filings/{filing_id}/submit", response_model=filing.FilingRead)
def submit_filing(filing_id: str, session: SessionDep, actor: ActorDep) -> filing.FilingRead:
    """Check the application and start its evaluation; the filing waits for the run in `testing`."""
    return filing.submit_filing(session, actor, filing_id)


@router.post("/filings/{filing_id}/review", response_model=filing.FilingRead)
def review_filing(filing_id: str, review: filing.FilingReview, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> filing.FilingRead:
    """Platform reviewers from outside the applicant org: judge every checklist item, approve or reject."""
    return filing.review_filing(session, filing.Issuer.of(runtime), actor, filing_id, review)


@router.post("/filings/{filing_id}/revoke", response_model=filing.FilingRead)
def revoke_filing(filing_id: str, end: filing.FilingEnd, session: SessionDep, actor: ActorDep) -> filing.FilingRead:
    """Reviewers and the operator withdraw an approved filing; it joins the revocation list."""
    return filing.revoke_filing(session, actor, filing_id, end)


@router.post("/filings/{filing_id}/deregister", response_model=filing.FilingRead)
def deregister_filing(filing_id: str, end: filing.FilingEnd, session: SessionDep, actor: ActorDep) -> filing.FilingRead:
    """The applicant org's admins withdraw their approved filing (注销)."""
    return filing.deregister_filing(session, actor, filing_id, end)


def _document(session: SessionDep, actor: ActorDep, runtime: RuntimeDep, filing_id: str, name: str) -> Response:
    document = filing.filing_document(session, runtime.blobs, actor, filing_id, name)
    disposition = "inline" if name == "report.html" else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="{document.filename}"'}
    return Response(document.content, media_type=document.media_type, headers=headers)


@router.get("/filings/{filing_id}/certificate")
def certificate(filing_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> Response:
    """The signed certificate (JSON), byte for byte as issued."""
    return _document(session, actor, runtime, filing_id, "certificate")


@router.get("/filings/{filing_id}/certificate.pdf")
def certificate_pdf(filing_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> Response:
    return _document(session, actor, runtime, filing_id, "certificate.pdf")


@router.get("/filings/{filing_id}/report.html")
def report_html(filing_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> Response:
    """The full report: as certified once approved; before that, rendered from the finished run."""
    return _document(session, actor, runtime, filing_id, "report.html")


@router.get("/filings/{filing_id}/report.pdf")
def report_pdf(filing_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> Response:
    return _document(session, actor, runtime, filing_id, "report.pdf")


# --- the public registry: no token --------------------------------------------------------------


@registry_router.get("/registry", response_model=Page[filing.RegistryEntry])
def search_registry(
    session: SessionDep,
    number: Annotated[str | None, Query(max_length=100)] = None,
    org: Annotated[str | None, Query(max_length=100, description="An org id or part of its name.")] = None,
    task: Annotated[str | None, Query(max_length=40)] = None,
    risk_level: Annotated[str | None, Query(max_length=10, description="低, 中, 高 or low, medium, high.")] = None,
    status: Annotated[str | None, Query(max_length=20, description="approved, revoked, deregistered or superseded.")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[filing.RegistryEntry]:
    """Filed models, newest first, with their status."""
    return filing.search_registry(session, number=number, org=org, task=task, risk_level=risk_level, status=status, q=q, limit=limit, cursor=cursor)


# Fixed paths before /registry/{number}, which would otherwise take them for numbers.
@registry_router.get("/registry/public-key")
def public_key(runtime: RuntimeDep) -> Response:
    """The operator's Ed25519 public key (PEM) that signs certificates and revocation lists."""
    return Response(filing.public_key_pem(filing.Issuer.of(runtime)), media_type="application/x-pem-file")


@registry_router.get("/registry/revocations")
def revocations(session: SessionDep, runtime: RuntimeDep) -> dict:
    """The signed list of filing numbers no longer in force (revoked or deregistered)."""
    return filing.revocations(session, filing.Issuer.of(runtime))


@registry_router.get("/registry/{number}", response_model=filing.RegistryEntryDetail)
def registry_entry(number: str, session: SessionDep) -> filing.RegistryEntryDetail:
    """A filed model's public record: status, risk level and its reasons, the test run's outline, revisions."""
    return filing.get_registry_entry(session, number)


@registry_router.get("/registry/{number}/report.html", response_class=HTMLResponse)
def registry_report(number: str, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    """The public part of the evaluation report."""
    return HTMLResponse(filing.public_report(session, filing.Issuer.of(runtime), number))
