"""Runs deployed endpoints inside the API process.

Each active endpoint that has been called holds one `BatchingRunner` (an ONNX Runtime session
with dynamic batching) and the version's `Preprocessor`. A request is authorised and its
endpoint resolved to a version through the database; that answer is cached for
`TARGET_TTL_S` per (token, endpoint), so an alias move, a stop or a revoked token takes effect
within that time. When the resolved version changes, the runner swaps sessions: batches already
running finish on the old version, queued and new requests run on the new one, nothing is
dropped. Changed batching settings rebuild the runner the same way.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from aicommons import models
from aicommons.core.errors import AicommonsError, Invalid
from aicommons.core.identity import authenticate
from aicommons.core.permissions import Actor
from aicommons.core.runtime import Runtime
from aicommons.models.artifacts import Signature
from aicommons.models.preprocessing import Preprocessor, predictions
from aicommons.serving.batching import BatchingRunner
from aicommons.serving.endpoints import Target, resolve_target
from aicommons.serving.metering import Meter
from aicommons.serving.metrics import LatencyHistogram, ServingMetrics, shared_request_latency
from aicommons.serving.quotas import RateLimiter, SharedBuckets
from aicommons.serving.schemas import PredictResponse

TARGET_TTL_S = 1.0
MAX_CACHED_TARGETS = 10_000
WORDPIECE_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class Payload:
    """One predict request: named arrays, raw instances, or one binary array for a single-input model."""

    inputs: dict[str, Any] | None = None
    instances: list[Any] | None = None
    array: np.ndarray | None = None


@dataclass
class Loaded:
    version: models.ModelVersionRead
    settings: tuple[int, int, float, float]
    runner: BatchingRunner
    preprocessor: Preprocessor


def _settings(target: Target) -> tuple[int, int, float, float]:
    e = target.endpoint
    return (e.workers, e.max_batch_size, e.max_wait_ms, e.latency_cap_ms)


class EndpointHost:
    def __init__(self, runtime: Runtime, *, flush_every_s: float = 2.0, shared_dir: Path | None = None):
        """`shared_dir`: where the API processes of one platform keep the rate quotas they share
        (`api.server`); None for a host that is the platform's only one."""
        self.runtime = runtime
        self.metrics = ServingMetrics()
        self._buckets = SharedBuckets(shared_dir / "quotas") if shared_dir else None
        self.limiter = RateLimiter(self._buckets)
        self.meter = Meter(runtime, flush_every_s=flush_every_s)
        self._lock = threading.Lock()
        self._loaded: dict[str, Loaded] = {}
        self._targets: dict[tuple[str, str], tuple[float, Actor, Target]] = {}

    # --- per request ---------------------------------------------------------------------------

    async def predict(self, token: str, name: str, payload: Payload) -> PredictResponse:
        """An API request: the bearer token's actor calls endpoint `name`."""
        started = time.perf_counter()
        # Cache hits stay on the event loop: a thread hop costs more than a small model's run.
        actor, target = self._cached(token, name) or await run_in_threadpool(self.authorize, token, name)
        return await self._run(actor, target, payload, started)

    async def predict_as(self, actor: Actor, name: str, payload: Payload) -> PredictResponse:
        """An in-process call (the CLI): an actor already authenticated."""
        started = time.perf_counter()
        with self.runtime.session() as session:
            target = resolve_target(session, actor, name)
        return await self._run(actor, target, payload, started)

    async def predict_resolved(self, actor: Actor, target: Target, payload: Payload) -> PredictResponse:
        """An in-process call on a target the caller resolved (`resolve_target`) in its own
        transaction: the console's, which holds the database while it runs (SQLite has one writer)."""
        return await self._run(actor, target, payload, time.perf_counter())

    async def _run(self, actor: Actor, target: Target, payload: Payload, started: float) -> PredictResponse:
        endpoint = target.endpoint
        self.limiter.take(endpoint.name, actor.org_id, endpoint.rate_limit_per_minute)
        loaded = self._current(target) or await run_in_threadpool(self.loaded, target)
        try:
            if payload.instances is None:  # arrays only need checking: cheap enough for the loop
                inputs = _model_inputs(loaded.preprocessor, payload)
            else:  # decoding images, segmenting or tokenising text: off the loop
                inputs = await run_in_threadpool(_model_inputs, loaded.preprocessor, payload)
            outputs, stats = await loaded.runner.infer(inputs)
        except AicommonsError:
            self.meter.add(endpoint.id, actor.org_id, rows=0, compute_seconds=0.0, error=True)
            self.metrics.observe_request(endpoint.name, actor.org_id, "error", time.perf_counter() - started)
            raise
        rows = int(next(iter(inputs.values())).shape[0])
        compute_s = stats.compute_ms / 1000
        self.meter.add(endpoint.id, actor.org_id, rows=rows, compute_seconds=compute_s)
        self.metrics.observe_request(endpoint.name, actor.org_id, "ok", time.perf_counter() - started, compute_seconds=compute_s)
        # Built from values of known types: constructed, not validated again field by field.
        return PredictResponse.model_construct(
            endpoint=endpoint.name, model_version_id=stats.tag or loaded.version.id,
            predictions=predictions(outputs, loaded.version.details), batch_rows=stats.batch_rows,
            queue_ms=round(stats.queue_ms, 3), compute_ms=round(stats.compute_ms, 3),
        )

    def authorize(self, token: str, name: str) -> tuple[Actor, Target]:
        """Who the token stands for and what endpoint `name` runs for them now (database reads)."""
        with self.runtime.session() as session:
            actor = authenticate(session, token)
            target = resolve_target(session, actor, name)
        now = time.monotonic()
        if len(self._targets) > MAX_CACHED_TARGETS:  # many tokens over time: forget the expired ones
            self._targets = {key: entry for key, entry in self._targets.items() if entry[0] > now}
        self._targets[_cache_key(token, name)] = (now + TARGET_TTL_S, actor, target)
        return actor, target

    def _cached(self, token: str, name: str) -> tuple[Actor, Target] | None:
        cached = self._targets.get(_cache_key(token, name))
        if cached and cached[0] > time.monotonic():
            return cached[1], cached[2]
        return None

    # --- runners -------------------------------------------------------------------------------

    def _current(self, target: Target) -> Loaded | None:
        current = self._loaded.get(target.endpoint.name)
        if current and current.version.id == target.version.id and current.settings == _settings(target):
            return current
        return None

    def loaded(self, target: Target) -> Loaded:
        """The endpoint's runner on the target's version: built, swapped or rebuilt as needed."""
        name = target.endpoint.name
        with self._lock:
            if current := self._current(target):
                return current
            current = self._loaded.get(name)
            onnx = self.runtime.blobs.read_bytes(target.version.onnx_sha256)
            preprocessor = self._preprocessor(target.version)
            if current and current.settings == _settings(target):
                current.runner.swap(onnx, tag=target.version.id)
                loaded = Loaded(target.version, current.settings, current.runner, preprocessor)
            else:
                loaded = Loaded(target.version, _settings(target), self._runner(target, onnx), preprocessor)
                if current:
                    threading.Thread(target=current.runner.close, name=f"drain-{name}", daemon=True).start()
            self._loaded[name] = loaded
            self.metrics.set_version(name, target.version.id)
            return loaded

    def _runner(self, target: Target, onnx: bytes) -> BatchingRunner:
        endpoint = target.endpoint
        names = {t["name"] for t in target.version.signature.get("inputs", [])}
        return BatchingRunner(
            onnx, workers=endpoint.workers, max_batch_size=endpoint.max_batch_size, max_wait_ms=endpoint.max_wait_ms,
            latency_cap_ms=endpoint.latency_cap_ms, pad_inputs=[n for n in WORDPIECE_INPUTS if n in names],
            tag=target.version.id, metrics=self.metrics.batch_observer(endpoint.name),
        )

    def _preprocessor(self, version: models.ModelVersionRead) -> Preprocessor:
        files = {name: self.runtime.blobs.read_bytes(sha) for name, sha in version.details.get("files", {}).items()}
        return Preprocessor(version.preprocessing, Signature.from_dict(version.signature), files)

    def close(self) -> None:
        with self._lock:
            loaded, self._loaded = list(self._loaded.values()), {}
        for item in loaded:
            item.runner.close()
        self.meter.close()
        if self._buckets is not None:
            self._buckets.close()


def app_host(state: Any) -> EndpointHost:
    """The host of a web app (its `app.state`), shared by the API and the console, made on first
    use (an app that never serves starts no meter thread), with the quotas the app's process
    shares with the platform's other API processes (`state.serving_shared_dir`, see `api.server`)."""
    if getattr(state, "serving", None) is None:
        state.serving = EndpointHost(state.runtime, shared_dir=getattr(state, "serving_shared_dir", None))
    return state.serving  # type: ignore[no-any-return]


def app_request_latency(state: Any, endpoint: str) -> LatencyHistogram | None:
    """The endpoint's request latencies as a web app's process can tell: over every API process
    where several share their metrics; else this process's, None before it has served a call."""
    host = getattr(state, "serving", None)
    return host.metrics.request_latency(endpoint) if host is not None else shared_request_latency(endpoint)


def _cache_key(token: str, name: str) -> tuple[str, str]:
    return hashlib.sha256(token.encode()).hexdigest(), name


def _model_inputs(preprocessor: Preprocessor, payload: Payload) -> dict[str, np.ndarray]:
    if payload.array is not None:
        names = [t.name for t in preprocessor.signature.inputs]
        if len(names) != 1:
            raise Invalid(f"A binary array body suits single-input models; this one takes {names}: send JSON 'inputs' instead.")
        return preprocessor.from_arrays({names[0]: payload.array})
    if payload.inputs is not None:
        return preprocessor.from_arrays(payload.inputs)
    assert payload.instances is not None
    return preprocessor.from_instances(payload.instances)

