"""Serving: endpoints, a deploy form, an endpoint's page with its usage and latency charts, and a
"try it" form that calls the endpoint through the same serving engine as the API."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from aicommons import models, serving
from aicommons.console import serving_charts, serving_tryit
from aicommons.console.deps import Member, MemberDep, PostingMemberDep, SessionDep
from aicommons.console.pages import ConsoleRoute, redirect, render
from aicommons.core.errors import Conflict, Invalid, NotFound

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
MODEL_CHOICES = 200  # the deploy form's list of models: the newest the visitor may see
USAGE_HOURS = 24
DEPLOY_FIELDS = ("name", "model_id", "version", "max_batch_size", "max_wait_ms")
# The deploy form's message for each field whose value the endpoint's rules refuse.
DEPLOY_RULES = {
    "name": "A name is 1 to 60 lowercase letters, digits and hyphens, starting with a letter or digit.",
    "model_id": "Choose a model.",
    "version": "A version is a number, an alias or “latest”.",
    "max_batch_size": "The largest batch is a whole number from 1 to 1,024.",
    "max_wait_ms": "The wait is 0 to 1,000 ms, and below the latency cap of {cap} ms.",
}


async def get_host(request: Request) -> serving.EndpointHost:
    """The app's serving engine, shared with the API."""
    return serving.app_host(request.app.state)


HostDep = Annotated[serving.EndpointHost, Depends(get_host)]


# --- the list and the deploy form -------------------------------------------------------------


def _list_page(
    request: Request,
    session: SessionDep,
    member: Member,
    *,
    cursor: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    page = serving.list_endpoint_page(
        session, member.actor, limit=PAGE_SIZE, cursor=cursor
    )
    choices = models.list_models(session, member.actor, limit=MODEL_CHOICES).items
    shown = {
        "version": "latest",
        "max_batch_size": "32",
        "max_wait_ms": "5",
        **(form or {}),
    }
    return render(
        request,
        member,
        "serving/list.html",
        status_code=status_code,
        page=page,
        choices=choices,
        form=shown,
        errors=errors or {},
    )


@router.get("/endpoints")
def endpoint_list(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    model_id: Annotated[str, Query(max_length=40)] = "",
    version: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    # A model's page links here with its shown version, to deploy it.
    chosen = {"model_id": model_id} | ({"version": version} if version else {})
    return _list_page(request, session, member, cursor=cursor, form=chosen)


@router.post("/endpoints")
def deploy(
    request: Request,
    session: SessionDep,
    member: PostingMemberDep,
    name: Annotated[str, Form(max_length=1000)] = "",
    model_id: Annotated[str, Form(max_length=1000)] = "",
    version: Annotated[str, Form(max_length=1000)] = "latest",
    max_batch_size: Annotated[str, Form(max_length=100)] = "32",
    max_wait_ms: Annotated[str, Form(max_length=100)] = "5",
) -> Response:
    form = {
        "name": name,
        "model_id": model_id,
        "version": version,
        "max_batch_size": max_batch_size,
        "max_wait_ms": max_wait_ms,
    }
    _ = member.translator.gettext
    try:
        spec = serving.EndpointCreate.model_validate(form)
        serving.deploy(session, member.actor, spec)
    except ValidationError as error:
        cap = serving.EndpointCreate.model_fields["latency_cap_ms"].default
        refused = {_field_of(e["loc"]) for e in error.errors()}
        errors = {
            f: _(DEPLOY_RULES[f], cap=member.translator.number(cap)) for f in refused
        }
    except Conflict:  # the only conflict a deploy meets: the name is taken
        taken = _("That name is taken; endpoint names are platform-wide.")
        errors = {"name": taken}
    except (
        NotFound
    ):  # the model lacks that version or alias (or the chosen model has gone)
        errors = {
            "version": _("The model has no version or alias “{ref}”.", ref=version)
        }
    else:
        return redirect(f"/endpoints/{spec.name}")
    # Whichever refusal it was: the form again, as typed, with the message beside its field.
    return _list_page(
        request, session, member, status_code=422, form=form, errors=errors
    )


def _field_of(location: tuple[Any, ...]) -> str:
    """The form field a validation error is about; the rule tying the wait to the cap counts as the wait's."""
    field = str(location[0]) if location else "max_wait_ms"
    return field if field in DEPLOY_FIELDS else "max_wait_ms"


# --- an endpoint's page and its try-it form ---------------------------------------------------


def _endpoint_page(
    request: Request,
    session: SessionDep,
    member: Member,
    name: str,
    *,
    status_code: int = 200,
    tried: serving.PredictResponse | None = None,
    typed: dict[str, str] | None = None,
    try_error: tuple[str, str] | None = None,
) -> Response:
    endpoint = serving.get_endpoint(session, member.actor, name)
    try:
        version = serving.serving_version(session, member.actor, name)
    except (
        NotFound
    ):  # an alias it follows was deleted: the page says so, the form is not offered
        version = None
    try:
        model = models.get_model(session, member.actor, endpoint.model_id)
    except NotFound:  # another org's public endpoint over a model they keep private
        model = None
    hours = serving.hourly_usage(session, member.actor, name, hours=USAGE_HOURS)
    latency = serving.app_request_latency(request.app.state, name)
    kind = serving_tryit.input_kind(version) if version else None
    translator = member.translator
    return render(
        request,
        member,
        "serving/endpoint.html",
        status_code=status_code,
        endpoint=endpoint,
        version=version,
        model=model,
        usage=serving.usage(session, member.actor, name),
        hours=hours,
        calls_chart=serving_charts.calls_per_hour(hours, translator),
        compute_chart=serving_charts.compute_per_call(hours, translator),
        latency=latency,
        latency_chart=serving_charts.latency_histogram(latency, translator)
        if latency and latency.requests
        else None,
        kind=kind,
        typed=typed
        if typed is not None
        else {kind: serving_tryit.example(version)}
        if version and kind
        else {},
        tried=tried,
        tried_charts=[
            serving_charts.probabilities(p, translator) for p in tried.predictions
        ]
        if tried
        else [],
        try_error=try_error,
    )


@router.get("/endpoints/{name}")
def endpoint_page(
    request: Request, name: str, session: SessionDep, member: MemberDep
) -> Response:
    return _endpoint_page(request, session, member, name)


@router.post("/endpoints/{name}/try")
def try_endpoint(
    request: Request,
    name: str,
    session: SessionDep,
    member: PostingMemberDep,
    host: HostDep,
    text: Annotated[str, Form(max_length=20_000)] = "",
    features: Annotated[str, Form(max_length=200_000)] = "",
    tensors: Annotated[str, Form(max_length=200_000)] = "",
    image: Annotated[UploadFile | None, File()] = None,
) -> Response:
    # Resolved in this request's transaction, which the engine then need not reopen.
    target = serving.resolve_target(session, member.actor, name)
    kind = serving_tryit.input_kind(target.version)
    typed = {"text": text, "features": features, "tensors": tensors}
    try:
        image_bytes = (
            image.file.read(serving_tryit.MAX_IMAGE_BYTES + 1)
            if image and image.filename
            else None
        )
        payload = serving_tryit.payload(
            kind, text=text, image=image_bytes, features=features, tensors=tensors
        )
        # The engine runs on the app's event loop; this page's handler runs in a worker thread.
        tried = anyio.from_thread.run(
            host.predict_resolved, member.actor, target, payload
        )
    except serving_tryit.TryRefused as refused:
        message = member.translator.gettext(refused.message, **refused.values)
        try_error = (refused.field, message)
    except Invalid as refused:  # what the model cannot take, in the service's words
        _ = member.translator.gettext
        message = _("The model cannot take this input: {why}", why=refused.message)
        try_error = (kind, message)
    else:
        return _endpoint_page(request, session, member, name, typed=typed, tried=tried)
    # Either refusal: the page again, with what was typed and the message beside its input.
    return _endpoint_page(
        request, session, member, name, status_code=422, typed=typed, try_error=try_error
    )
