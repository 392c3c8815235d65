"""`aicommons endpoints …`: deploy model versions as endpoints, call them, read their usage."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from aicommons import models, serving
from aicommons.cli import rendering
from aicommons.cli.state import state
from aicommons.core.errors import Invalid

app = typer.Typer(help="Serving: endpoints with dynamic batching, quotas and metering.", no_args_is_help=True)


@app.command("deploy")
def deploy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The endpoint's platform-wide name, e.g. digits-api.")],
    model: Annotated[str, typer.Argument(help="The model (name or id) to serve.")],
    version: Annotated[str, typer.Option(help="A version number, an alias (followed as it moves) or latest.")] = "latest",
    workers: int = 1,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    latency_cap_ms: float = 200.0,
    rate_limit_per_minute: int = 6000,
    visibility: Annotated[str, typer.Option(help="private (your org) or public (every org; the version must be filed).")] = "private",
) -> None:
    """Deploy a model version as an endpoint of your organisation."""
    with state(ctx).session() as (session, actor):
        target = models.find_model(session, actor, model)
        spec = serving.EndpointCreate(
            name=name, model_id=target.id, version=version, workers=workers, max_batch_size=max_batch_size,
            max_wait_ms=max_wait_ms, latency_cap_ms=latency_cap_ms, rate_limit_per_minute=rate_limit_per_minute,
            visibility=visibility,
        )
        endpoint = serving.deploy(session, actor, spec)
    rendering.out.print(f"Deployed [bold]{endpoint.name}[/] → {target.name}@{endpoint.version_ref}; POST {endpoint.url}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The endpoints you can see."""
    with state(ctx).session() as (session, actor):
        rows = serving.list_endpoints(session, actor)
    rendering.table(
        "Endpoints", ["name", "model", "version", "visibility", "status", "batch", "wait ms", "cap ms", "rate/min"],
        ((e.name, e.model_id, e.version_ref, e.visibility, e.status, e.max_batch_size, e.max_wait_ms, e.latency_cap_ms, e.rate_limit_per_minute) for e in rows),
    )


@app.command("show")
def show(ctx: typer.Context, name: str) -> None:
    """An endpoint's settings and the version it serves now."""
    with state(ctx).session() as (session, actor):
        endpoint = serving.get_endpoint(session, actor, name)
    rendering.record(endpoint)


@app.command("update")
def update(
    ctx: typer.Context,
    name: str,
    version: Annotated[str | None, typer.Option(help="Serve this version or alias instead.")] = None,
    status: Annotated[str | None, typer.Option(help="active or stopped.")] = None,
    max_batch_size: int | None = None,
    max_wait_ms: float | None = None,
    latency_cap_ms: float | None = None,
    rate_limit_per_minute: int | None = None,
    visibility: Annotated[str | None, typer.Option(help="private or public (org admins; public needs a filed version).")] = None,
) -> None:
    """Change what an endpoint serves or how; callers switch over within a second."""
    change = serving.EndpointUpdate(
        version=version, status=status, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
        latency_cap_ms=latency_cap_ms, rate_limit_per_minute=rate_limit_per_minute, visibility=visibility,
    )
    with state(ctx).session() as (session, actor):
        endpoint = serving.update_endpoint(session, actor, name, change)
    rendering.record(endpoint)


@app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Retire an endpoint (org admins); its usage history stays."""
    with state(ctx).session() as (session, actor):
        serving.delete_endpoint(session, actor, name)
    rendering.out.print(f"Deleted endpoint {name}")


@app.command("usage")
def usage(ctx: typer.Context, name: str) -> None:
    """Calls, rows and compute-seconds per calling organisation."""
    with state(ctx).session() as (session, actor):
        rows = serving.usage(session, actor, name)
    rendering.table(f"Usage of {name}", ["org", "calls", "rows", "errors", "compute s", "since", "until"],
                    ((u.org_id, u.calls, u.rows, u.errors, f"{u.compute_seconds:.4f}", u.since, u.until) for u in rows))


@app.command("predict")
def predict(
    ctx: typer.Context,
    name: str,
    text: Annotated[list[str] | None, typer.Option(help="A sentence to classify or embed; repeat.")] = None,
    image: Annotated[list[Path] | None, typer.Option(help="An image file; repeat.")] = None,
    instances: Annotated[Path | None, typer.Option(help="A JSON file with a list of instances.")] = None,
    array: Annotated[Path | None, typer.Option(help="A .npy file: the single input's array.")] = None,
) -> None:
    """Call an endpoint from this process: the same preprocessing, batching runner and metering as the API."""
    given = [x for x in (text, image, instances, array) if x]
    if len(given) != 1:
        raise Invalid("Give exactly one of --text, --image, --instances or --array.")
    if array is not None:
        payload = serving.Payload(array=np.load(array, allow_pickle=False))
    elif instances is not None:
        payload = serving.Payload(instances=json.loads(instances.read_text(encoding="utf-8")))
    elif image:
        payload = serving.Payload(instances=[path.read_bytes() for path in image])
    else:
        payload = serving.Payload(instances=list(text or []))
    cli = state(ctx)
    with cli.session() as (_, actor):
        pass  # who is calling; the host opens its own transactions
    host = serving.EndpointHost(cli.runtime())
    try:
        result = asyncio.run(host.predict_as(actor, name, payload))
    finally:
        host.close()
    rendering.as_json(result)
