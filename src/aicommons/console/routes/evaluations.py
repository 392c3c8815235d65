"""Evaluation and filing: run a suite and read its results, charts and reports; file a model (the
application, the ethics checklist with its evidence, submission) and follow it to its number and
certificate; and the reviewers' queue, where each checklist item is judged and the filing decided.

Forms are read by `evaluation_forms`; whatever a service then refuses is shown next to the field it
concerns with a 422, and the service calls behind one form run in a savepoint, so a refused form
stores nothing (not even the draft or the evidence an all-or-nothing "save and submit" began with).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aicommons import data, evaluation, filing, models
from aicommons.console.deps import (
    Member,
    MemberDep,
    PostingMemberDep,
    RuntimeDep,
    SessionDep,
)
from aicommons.console.evaluation_forms import FilingForm, ReviewForm, RunForm
from aicommons.console.pages import ConsoleRoute, redirect, render
from aicommons.core.errors import AicommonsError, Conflict, Invalid, not_found
from aicommons.core.runtime import Runtime
from aicommons.evaluation.reports import headline_metrics
from aicommons.filing.filings import EDITABLE

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
Cursor = Annotated[str | None, Query(max_length=40)]
DocumentName = Literal["certificate", "certificate.pdf", "report.html", "report.pdf"]
SERVICE_FORMS = list(get_args(filing.ServiceForm))
ALGORITHM_TYPES = list(get_args(filing.AlgorithmType))


class FieldRefused(Exception):
    """A service refused what one field of a form asked for."""

    def __init__(self, field: str, error: AicommonsError):
        super().__init__(error.message)
        self.field = field
        self.message = error.message


@contextmanager
def refusals_to(field: str, *kinds: type[AicommonsError]) -> Iterator[None]:
    """A service error raised in this block (of these kinds; any, if none are named) concerns
    `field` of the form being handled; others become the usual error pages."""
    caught = kinds or (AicommonsError,)
    try:
        yield
    except caught as error:
        raise FieldRefused(field, error) from error


@contextmanager
def all_or_nothing(session: Session, errors: dict[str, str]) -> Iterator[None]:
    """The service calls of one form in a savepoint: a refusal rolls back what the others did, and
    its message goes into `errors` under its field (the block ends there; a handler then shows the
    form again, so a form's errors, its own or the services', are shown by one call)."""
    try:
        with session.begin_nested():
            yield
    except FieldRefused as refused:
        errors[refused.field] = refused.message


def attachment(filename: str, disposition: str = "attachment") -> str:
    """A Content-Disposition for any file name: an applicant's may be Chinese, and headers are Latin-1."""
    return f"{disposition}; filename*=UTF-8''{quote(filename)}"


def _list_page(
    request: Request,
    session: Session,
    member: Member,
    template: str,
    listing: Callable[..., Any],
    cursor: str | None,
) -> Response:
    """A paged list (runs, filings, the review queue): one page of what `listing` lets the member see."""
    page = listing(session, member.actor, limit=PAGE_SIZE, cursor=cursor)
    return render(request, member, template, page=page)


# --- evaluation runs --------------------------------------------------------------------------


@router.get("/evaluations")
def run_list(
    request: Request, session: SessionDep, member: MemberDep, cursor: Cursor = None
) -> Response:
    return _list_page(request, session, member, "evaluations/runs.html", evaluation.list_evaluations, cursor)


def _run_form_page(
    request: Request,
    session: Session,
    member: Member,
    form: RunForm,
    *,
    status_code: int = 200,
) -> Response:
    own_models = models.list_models(session, member.actor, limit=PAGE_SIZE)
    datasets = data.list_datasets(session, member.actor, limit=PAGE_SIZE)
    return render(
        request,
        member,
        "evaluations/run_form.html",
        status_code=status_code,
        form=form,
        models=own_models.items,
        datasets=datasets.items,
        suites=[evaluation.suites.get(name) for name in evaluation.suites],
    )


@router.get("/evaluations/new")
def run_form(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    model_id: Annotated[str, Query(max_length=40)] = "",
    version: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return _run_form_page(request, session, member, RunForm(model_id=model_id, version=version))


@router.post("/evaluations")
async def start_run(
    request: Request, session: SessionDep, member: PostingMemberDep
) -> Response:
    form = RunForm.read(await request.form(), member.translator)
    if not form.errors:
        with all_or_nothing(session, form.errors):
            with refusals_to("version"):
                version = models.resolve_version(
                    session, member.actor, form.model_id, form.version or None
                )
            dataset_version_id = None
            if form.dataset_id:
                with refusals_to("dataset_id"):
                    number = int(form.dataset_version) if form.dataset_version else None
                    dataset_version_id = data.resolve_version(
                        session, member.actor, form.dataset_id, number
                    ).id
            with refusals_to("dataset_id"):
                run = evaluation.start_evaluation(
                    session,
                    member.actor,
                    evaluation.EvaluationCreate(
                        version_id=version.id,
                        dataset_version_id=dataset_version_id,
                        suite=form.suite,
                    ),
                )
            return redirect(f"/evaluations/{run.id}")
    return _run_form_page(request, session, member, form, status_code=422)


@router.get("/evaluations/{evaluation_id}")
def run_page(
    request: Request, evaluation_id: str, session: SessionDep, member: MemberDep
) -> Response:
    run = evaluation.get_evaluation(session, member.actor, evaluation_id)
    headlines = {result.name: headline_metrics(result) for result in run.results}
    # While it runs, htmx asks again every second and swaps in just the progress and results.
    template = (
        "evaluations/run_body.html"
        if request.headers.get("hx-request") == "true"
        else "evaluations/run.html"
    )
    return render(
        request,
        member,
        template,
        run=run,
        headlines=headlines,
        running=run.status in ("queued", "running"),
    )


@router.get("/evaluations/{evaluation_id}/charts/{name}")
def run_chart(
    evaluation_id: str,
    name: str,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
) -> Response:
    run = evaluation.get_evaluation(session, member.actor, evaluation_id)
    sha256 = next(
        (result.charts[name] for result in run.results if name in result.charts), None
    )
    if sha256 is None:
        raise not_found("chart", name)
    # Content-addressed: a chart never changes, so the browser may keep it.
    return Response(
        runtime.blobs.read_bytes(sha256),
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.get("/evaluations/{evaluation_id}/report.html")
def run_report_html(
    evaluation_id: str, session: SessionDep, member: MemberDep, runtime: RuntimeDep
) -> Response:
    report = evaluation.build_report_input(
        session, runtime.blobs, member.actor, evaluation_id
    )
    return HTMLResponse(evaluation.render_html(report))


@router.get("/evaluations/{evaluation_id}/report.pdf")
def run_report_pdf(
    evaluation_id: str, session: SessionDep, member: MemberDep, runtime: RuntimeDep
) -> Response:
    report = evaluation.build_report_input(
        session, runtime.blobs, member.actor, evaluation_id
    )
    headers = {"Content-Disposition": attachment(f"evaluation-{evaluation_id}.pdf")}
    return Response(
        evaluation.render_pdf(report), media_type="application/pdf", headers=headers
    )


# --- filings ----------------------------------------------------------------------------------


@router.get("/filings")
def filing_list(
    request: Request, session: SessionDep, member: MemberDep, cursor: Cursor = None
) -> Response:
    return _list_page(request, session, member, "evaluations/filings.html", filing.list_filings, cursor)


def _filing_form_page(
    request: Request,
    session: Session,
    member: Member,
    form: FilingForm,
    *,
    found: filing.FilingRead | None = None,
    status_code: int = 200,
) -> Response:
    # Only the org's own models can be filed; an edited filing keeps its model version.
    own_models = (
        []
        if found
        else models.list_models(
            session, member.actor, org_id=member.actor.org_id, limit=PAGE_SIZE
        ).items
    )
    evidence_names = {e.sha256: e.filename for e in found.evidence} if found else {}
    return render(
        request,
        member,
        "evaluations/filing_form.html",
        status_code=status_code,
        form=form,
        found=found,
        models=own_models,
        checklist=filing.Checklist.default(),
        service_forms=SERVICE_FORMS,
        algorithm_types=ALGORITHM_TYPES,
        evidence_names=evidence_names,
    )


@router.get("/filings/new")
def new_filing(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    model_id: Annotated[str, Query(max_length=40)] = "",
    version: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    values = {"service_form": "api", "algorithm_type": "classification", "model_id": model_id, "version": version}
    return _filing_form_page(request, session, member, FilingForm(values=values))


def _attach_uploads(
    session: Session, runtime: Runtime, member: Member, filing_id: str, form: FilingForm
) -> dict[str, list[str]]:
    """Store each item's newly chosen documents as the filing's evidence; their sha256s, per item."""
    attached: dict[str, list[str]] = {}
    for item, uploads in form.uploads.items():
        for upload in uploads:
            with refusals_to(f"evidence-{item}"):
                evidence = filing.attach_evidence(
                    session,
                    runtime.blobs,
                    member.actor,
                    filing_id,
                    upload.file,
                    upload.filename or "evidence",
                    upload.content_type or "",
                )
            attached.setdefault(item, []).append(evidence.sha256)
    return attached


def _submit_if_asked(
    session: Session, member: Member, filing_id: str, form: FilingForm
) -> None:
    if form.submit:
        with refusals_to("action"):
            filing.submit_filing(session, member.actor, filing_id)


@router.post("/filings")
async def create_filing(
    request: Request, session: SessionDep, member: PostingMemberDep, runtime: RuntimeDep
) -> Response:
    checklist = filing.Checklist.default()
    form = FilingForm.read(await request.form(), member.translator, checklist)
    if not form.values["model_id"]:
        form.errors["model_id"] = member.translator.gettext(
            "Choose one of the listed models."
        )
    if not form.errors:
        with all_or_nothing(session, form.errors):
            with refusals_to("version"):
                version = models.resolve_version(
                    session,
                    member.actor,
                    form.values["model_id"],
                    form.values["version"] or None,
                )
                draft = filing.create_filing(
                    session,
                    member.actor,
                    filing.FilingCreate(version_id=version.id, **form.application),
                )
            attached = _attach_uploads(session, runtime, member, draft.id, form)
            with refusals_to("action"):
                filing.update_filing(
                    session,
                    member.actor,
                    draft.id,
                    filing.FilingUpdate(answers=form.checklist_answers(attached)),
                )
            _submit_if_asked(session, member, draft.id, form)
            return redirect(f"/filings/{draft.id}")
    return _filing_form_page(request, session, member, form, status_code=422)


@router.get("/filings/review")
def review_queue(
    request: Request, session: SessionDep, member: MemberDep, cursor: Cursor = None
) -> Response:
    return _list_page(request, session, member, "evaluations/review_queue.html", filing.list_review_queue, cursor)


def _by_item(found: filing.FilingRead) -> dict[str, object]:
    """A filing's checklist answers, judgements and evidence file names, looked up per item as the pages show them."""
    return {
        "answers_by_item": {a["item"]: a for a in found.answers},
        "judgements_by_item": {j["item"]: j for j in found.judgements},
        "evidence_names": {e.sha256: e.filename for e in found.evidence},
        "checklist": filing.Checklist.default(),
    }


def _filing_page(
    request: Request,
    session: Session,
    member: Member,
    filing_id: str,
    *,
    submit_error: str | None = None,
    status_code: int = 200,
) -> Response:
    found = filing.get_filing(session, member.actor, filing_id)
    return render(
        request,
        member,
        "evaluations/filing.html",
        status_code=status_code,
        found=found,
        submit_error=submit_error,
        editable=found.status in EDITABLE,
        **_by_item(found),
    )


@router.get("/filings/{filing_id}")
def filing_page(
    request: Request, filing_id: str, session: SessionDep, member: MemberDep
) -> Response:
    return _filing_page(request, session, member, filing_id)


@router.get("/filings/{filing_id}/edit")
def edit_filing_form(
    request: Request, filing_id: str, session: SessionDep, member: MemberDep
) -> Response:
    found = filing.get_filing(session, member.actor, filing_id)
    return _filing_form_page(
        request, session, member, FilingForm.of(found), found=found
    )


@router.post("/filings/{filing_id}/edit")
async def edit_filing(
    request: Request,
    filing_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    runtime: RuntimeDep,
) -> Response:
    found = filing.get_filing(session, member.actor, filing_id)
    form = FilingForm.read(
        await request.form(),
        member.translator,
        filing.Checklist.default(),
        evidence=FilingForm.of(found).evidence,
    )
    if not form.errors:
        with all_or_nothing(session, form.errors):
            attached = _attach_uploads(session, runtime, member, filing_id, form)
            with refusals_to("action"):
                change = filing.FilingUpdate(
                    **form.application, answers=form.checklist_answers(attached)
                )
                filing.update_filing(session, member.actor, filing_id, change)
            _submit_if_asked(session, member, filing_id, form)
            return redirect(f"/filings/{filing_id}")
    return _filing_form_page(
        request, session, member, form, found=found, status_code=422
    )


@router.post("/filings/{filing_id}/submit")
def submit_filing(
    request: Request, filing_id: str, session: SessionDep, member: PostingMemberDep
) -> Response:
    errors: dict[str, str] = {}
    # Not the visitor's filing to submit: the 404 or 403 page says so.
    with all_or_nothing(session, errors), refusals_to("action", Invalid, Conflict):
        filing.submit_filing(session, member.actor, filing_id)
        return redirect(f"/filings/{filing_id}")
    return _filing_page(
        request,
        session,
        member,
        filing_id,
        submit_error=errors["action"],
        status_code=422,
    )


@router.get("/filings/{filing_id}/evidence/{sha256}")
def evidence_file(
    filing_id: str,
    sha256: str,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
) -> Response:
    evidence = filing.evidence_file(session, member.actor, filing_id, sha256)
    # Uploaded by an applicant: always a download, never a page of the console.
    headers = {
        "Content-Disposition": attachment(evidence.filename),
        "X-Content-Type-Options": "nosniff",
    }
    return Response(
        runtime.blobs.read_bytes(sha256),
        media_type="application/octet-stream",
        headers=headers,
    )


@router.get("/filings/{filing_id}/documents/{name}")
def filing_document(
    filing_id: str,
    name: DocumentName,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
) -> Response:
    document = filing.filing_document(
        session, runtime.blobs, member.actor, filing_id, name
    )
    disposition = "inline" if name == "report.html" else "attachment"
    headers = {"Content-Disposition": attachment(document.filename, disposition)}
    return Response(document.content, media_type=document.media_type, headers=headers)


# --- reviewing --------------------------------------------------------------------------------


def _review_page(
    request: Request,
    session: Session,
    member: Member,
    filing_id: str,
    form: ReviewForm,
    *,
    status_code: int = 200,
) -> Response:
    found = filing.get_filing_for_review(session, member.actor, filing_id)
    return render(
        request,
        member,
        "evaluations/review.html",
        status_code=status_code,
        found=found,
        form=form,
        **_by_item(found),
    )


@router.get("/filings/{filing_id}/review")
def review_form(
    request: Request, filing_id: str, session: SessionDep, member: MemberDep
) -> Response:
    return _review_page(request, session, member, filing_id, ReviewForm())


@router.post("/filings/{filing_id}/review")
async def review_filing(
    request: Request,
    filing_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    runtime: RuntimeDep,
) -> Response:
    checklist = filing.Checklist.default()
    form = ReviewForm.read(await request.form(), member.translator, checklist)
    if not form.errors:
        # Not the visitor's filing to review: the 404 or 403 page says so.
        with all_or_nothing(session, form.errors), refusals_to("decision", Invalid, Conflict):
            filing.review_filing(
                session,
                filing.Issuer.of(runtime),
                member.actor,
                filing_id,
                form.review(),
            )
            return redirect(f"/filings/{filing_id}")
    return _review_page(request, session, member, filing_id, form, status_code=422)
