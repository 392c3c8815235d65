"""Dynamic batching for one deployed model: requests run through ONNX Runtime in batches that
never push latency past a cap.

A `BatchingRunner` owns one `onnxruntime.InferenceSession` and `workers` threads that run
batches on it (ONNX Runtime releases the GIL, so they overlap with the event loop and each
other). Callers hand it one request at a time (`await infer(...)` from any event loop, or
`run_direct(...)` from a plain thread) and get back exactly their own rows of every output.

The policy, applied by each worker thread whenever it is free (it then takes the batch and runs
it itself: no hand-off thread between a request and the session):

1. **Cost model.** Batch run time is predicted as `fixed + per_unit * units`, where a unit is one
   row at the warm-up input's size (padded inputs make a row of 60 tokens cost about four rows
   of 15). It is seeded at load by timing batch 1 and `max_batch_size` on the warm-up input and
   then follows every batch run (an exponentially weighted least-squares fit: recent batches
   count most, the warm-up points never quite vanish so the slope stays known when all recent
   batches had one size). It therefore learns contention between workers and the HTTP server.
2. **Budget.** `budget = latency_cap_ms - overhead_ms` (the margin for HTTP parsing and
   replying; default a fifth of the cap). A batch may hold at most `max_batch_size` rows and at
   most the rows whose predicted run time fits in **half** the budget: a request that arrives
   just after a batch started waits for that batch (≤ half) and then runs in the next (≤ half),
   so queueing behind a busy worker cannot by itself break the cap.
3. **Dispatch.** The batch is the oldest request plus, in arrival order, every queued request
   of compatible shape that still fits (a request is never split; one larger than
   `max_batch_size` is cut into chunks that each run alone). A request whose length would pad
   the batch joins only if the padding costs less than a run of its own (the model's fixed cost
   per run): on a CPU transformer, where cost follows tokens, a long sentence padding fifteen
   short ones would cost more than batching saves. The batch is dispatched as soon as any of:
   - it is full (a compatible request was left out for rows, run time or padding);
   - no batch is running at all: an idle server gains nothing by holding a request, so a lone
     caller is never taxed the wait window (and if no other request is in the runner and its
     run is predicted under `INLINE_RUN_MS`, it runs right in the caller's thread: for a tiny
     model two thread wake-ups cost more than the run);
   - the oldest request has waited `max_wait_ms`;
   - the oldest request's wait plus the batch's predicted run time reaches the budget — the
     step fixed-window batchers lack: a slow model dispatches long before its window ends.
   While every worker is busy requests simply accumulate, and that is where batching pays: the
   next free worker takes them all at once.
4. **Batches on the event loop.** When the cost model predicts that even a full batch runs in
   under `LOOP_BATCH_MS`, an `infer` caller's request is not handed to a worker thread at all:
   the requests that arrive during one turn of the caller's event loop are queued, and at the
   end of that turn the loop itself runs them, batched by the same plan. For such a model the
   hand-offs to a worker and back (two thread wake-ups and the GIL passing between them) cost
   more than the run: the digits CNN runs 64 rows in about 0.4 ms. A slower model, or a caller
   in a plain thread (`run_direct`), goes to the workers as above.
5. **Overload.** Nothing is shed silently: when the queue holds `max_queue_rows` rows a new
   request raises `Overloaded` (HTTP 503 with Retry-After = the predicted time to drain).

Inputs listed in `pad_inputs` (e.g. WordPiece `input_ids`, `attention_mask`, `token_type_ids`)
may differ in their trailing dimensions between requests: they are zero-padded to the longest in
the batch, which a model honouring its attention mask cannot tell from an unpadded run. Other
inputs must match exactly to share a batch; a request whose shapes match no one else's runs
alone. If a batch fails (a bad value only ONNX Runtime could spot), each of its requests is
retried alone, so one caller's bad input never fails another caller's request.

`swap()` moves the runner to a new model version with the same signature: batches already
running finish on the old session; queued and new requests run on the new one; nothing is
dropped. `close()` runs what is queued, then stops the threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
import itertools
import logging
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

from aicommons.core.errors import Conflict, Invalid, Unavailable, invalid_parameter

log = logging.getLogger("aicommons.serving")

# Dynamic trailing dims of the synthetic warm-up input (when no sample is given): about a short
# sentence's worth of tokens.
WARMUP_EXTENT = 16
# Each warm-up size is timed at least twice and, while it stays within the time budget, up to
# five times, keeping the fastest: a run of a tenth of a millisecond that a busy machine
# preempts once measures several times its cost, and the first cost model would keep that.
WARMUP_RUNS = (2, 5)
WARMUP_BUDGET_S = 0.05
# A batch's predicted run time may use at most this share of the latency budget (see policy 2).
RUN_SHARE = 0.5
# A request alone in an idle runner runs in the caller's own thread when predicted to take less
# than this: handing it to a worker and back costs two thread wake-ups (~0.1-0.5 ms), more.
INLINE_RUN_MS = 0.2
# A model whose full batch is predicted to run within this long runs on the caller's event loop
# (policy 4): the loop is blocked no longer than by parsing a few requests.
LOOP_BATCH_MS = 1.0
# Slack for a waiting worker's own wake-up lateness when it aims at a budget deadline.
DISPATCH_SLACK_MS = 1.0

_NUMPY_TYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16, "tensor(uint32)": np.uint32, "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_, "tensor(string)": np.object_,
}


class Overloaded(Unavailable):
    """The runner's queue is full; `retry_after` estimates when it will have room."""

    code = "overloaded"


@dataclass(frozen=True)
class RunStats:
    """How one request ran: time queued, its share of the batch's compute, the batch's rows, the version."""

    queue_ms: float
    compute_ms: float
    batch_rows: int
    tag: str


class BatchObserver(Protocol):
    """Receives what the runner does, e.g. to export Prometheus metrics."""

    def batch_ran(self, rows: int, seconds: float) -> None: ...

    def queue_depth(self, rows: int) -> None: ...


# --- the model's signature ------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    name: str
    type: str  # ONNX Runtime's spelling, e.g. "tensor(float)"
    shape: tuple[int | None, ...] | None  # None per symbolic dimension; None when the rank is unknown

    @classmethod
    def of(cls, arg: Any) -> TensorSpec:
        shape = arg.shape
        dims = None if shape is None else tuple(d if isinstance(d, int) and d >= 0 else None for d in shape)
        return cls(arg.name, arg.type, dims)

    @property
    def numpy_type(self) -> type:
        if self.type not in _NUMPY_TYPES:
            raise Invalid(f"The model's input {self.name!r} has type {self.type}, which serving does not support.")
        return _NUMPY_TYPES[self.type]


@dataclass(frozen=True)
class Signature:
    """What a session takes and gives: two versions with equal signatures may replace each other."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @classmethod
    def of(cls, session: ort.InferenceSession) -> Signature:
        return cls(tuple(map(TensorSpec.of, session.get_inputs())), tuple(map(TensorSpec.of, session.get_outputs())))

    def difference(self, other: Signature) -> str | None:
        """Why `other` cannot replace this signature, or None when it can (output shapes may differ)."""
        if self.inputs != other.inputs:
            return f"inputs {_describe(self.inputs)} became {_describe(other.inputs)}"
        mine = [(t.name, t.type) for t in self.outputs]
        theirs = [(t.name, t.type) for t in other.outputs]
        if mine != theirs:
            return f"outputs {mine} became {theirs}"
        return None


def _describe(specs: Iterable[TensorSpec]) -> str:
    return "[" + ", ".join(f"{t.name}: {t.type} {list(t.shape) if t.shape is not None else '?'}" for t in specs) + "]"


def build_session(model: bytes, intra_op_threads: int = 1) -> ort.InferenceSession:
    """An ONNX Runtime session on the CPU set up for serving: sequential execution, and no
    spinning pool threads (they would burn the cores the HTTP server needs between batches)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for a malformed graph
        raise Invalid(f"The model could not be loaded by ONNX Runtime: {exc}") from None


# --- the cost model -------------------------------------------------------------------------------


class CostModel:
    """Predicts a batch's run time in ms as `fixed + per_unit * units`.

    An exponentially weighted least-squares fit: each observation decays the earlier ones by
    `decay`, so the fit follows the machine as it is now (other workers, the HTTP server). The
    warm-up points enter as the first observations, and their slope also acts as a weak prior
    (ridge) on the fitted slope: when recent batches all had about the same size, their level is
    kept but the slope stays the warm-up's instead of whatever noise would make it. Not
    thread-safe: the runner calls it under its lock.
    """

    def __init__(self, anchors: Sequence[tuple[float, float]], *, decay: float = 0.9, prior_strength: float = 0.01):
        self.decay = decay
        self._sums = _WeightedSums()
        for units, ms in anchors:
            self._sums.add(units, ms, 1.0)
        self._prior_slope = max(0.0, self._sums.slope(0.0, 0.0))
        self._prior_weight = prior_strength * self._sums.spread()
        self.fixed_ms, self.per_unit_ms = self._fit()

    def observe(self, units: float, ms: float) -> None:
        self._sums.scale(self.decay)
        self._sums.add(units, ms, 1.0)
        self.fixed_ms, self.per_unit_ms = self._fit()

    def predict(self, units: float) -> float:
        return self.fixed_ms + self.per_unit_ms * units

    def units_within(self, ms: float) -> float:
        """The most work whose predicted run time is `ms`."""
        if self.per_unit_ms <= 0:
            return math.inf
        return max(0.0, (ms - self.fixed_ms) / self.per_unit_ms)

    def _fit(self) -> tuple[float, float]:
        s = self._sums
        if s.w <= 0:
            return 0.0, 0.0
        mean_x, mean_y = s.x / s.w, s.y / s.w
        slope = s.slope(self._prior_slope, self._prior_weight)
        if slope <= 0:  # no measurable per-row cost: a constant
            return max(0.0, mean_y), 0.0
        fixed = mean_y - slope * mean_x
        if fixed < 0:  # time cannot be negative at zero rows: through the origin and the mean
            return 0.0, mean_y / mean_x
        return fixed, slope


@dataclass
class _WeightedSums:
    w: float = 0.0
    x: float = 0.0
    y: float = 0.0
    xx: float = 0.0
    xy: float = 0.0

    def add(self, x: float, y: float, weight: float) -> None:
        self.w += weight
        self.x += weight * x
        self.y += weight * y
        self.xx += weight * x * x
        self.xy += weight * x * y

    def scale(self, factor: float) -> None:
        self.w, self.x, self.y, self.xx, self.xy = (v * factor for v in (self.w, self.x, self.y, self.xx, self.xy))

    def spread(self) -> float:
        """Weighted sum of squared deviations of x from its mean."""
        return max(0.0, self.xx - self.x * self.x / self.w) if self.w > 0 else 0.0

    def slope(self, prior: float, prior_weight: float) -> float:
        """Least-squares slope of y on x, shrunk towards `prior` with strength `prior_weight`."""
        if self.w <= 0:
            return prior
        covariance = self.xy - self.x * self.y / self.w
        denominator = self.spread() + prior_weight
        return (covariance + prior_weight * prior) / denominator if denominator > 0 else prior


# --- requests and batches -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    session: ort.InferenceSession
    signature: Signature
    tag: str


@dataclass(eq=False)
class _Request:
    inputs: dict[str, np.ndarray]
    rows: int
    key: tuple[Any, ...]  # requests with equal keys may share a batch
    alone: bool  # a chunk of an oversized request: never shares a batch
    arrived: float
    future: concurrent.futures.Future[tuple[dict[str, np.ndarray], RunStats]]


@dataclass(eq=False)
class _Batch:
    requests: list[_Request]
    rows: int
    units: float
    model: _Model


@dataclass(frozen=True)
class _Plan:
    """The batch a free worker would run now, and whether waiting could still grow it."""

    requests: list[_Request]
    rows: int
    units: float
    full: bool


# The longest a thread holds the GIL while another waits for it (Python's default is 5 ms).
GIL_TURN_S = 0.0005


def _shorten_gil_turns() -> None:
    """Let worker threads get the GIL back within half a millisecond, process-wide.

    A worker needs the GIL briefly before and after each ONNX Runtime run (to take the batch, to
    hand each caller its rows), while the event loop's thread holds it parsing HTTP. At Python's
    default 5 ms turns every such hop waits up to 5 ms under load, batches fall behind and latency
    piles up: the digits CNN at 64 clients had a p95 of 224 ms against a 100 ms cap, and 21 ms with
    0.5 ms turns (bench/serving.py), at 16% more requests a second."""
    if sys.getswitchinterval() > GIL_TURN_S:
        sys.setswitchinterval(GIL_TURN_S)


@functools.cache
def _freeze_long_lived_objects() -> None:
    """Move every object alive now (modules, the ORM's metadata, the model's own) out of the
    garbage collector's reach, once per process.

    A full collection walks every tracked object. In a serving process most of them live as long
    as the process, and walking them all (~400,000 with the platform imported) took about 190 ms,
    now and then, in the middle of some request: the digits CNN at 64 clients had a p99.9 of 190 ms
    with it and 3 ms after `gc.freeze()`. New objects are still collected as before."""
    gc.collect()
    gc.freeze()


class BatchingRunner:
    """One model version served with dynamic batching; see the module docstring for the policy."""

    def __init__(
        self,
        model: bytes | ort.InferenceSession,
        *,
        workers: int = 1,
        intra_op_threads: int = 1,
        max_batch_size: int = 32,
        max_wait_ms: float = 5.0,
        latency_cap_ms: float = 200.0,
        pad_inputs: Iterable[str] = (),
        max_queue_rows: int | None = None,
        overhead_ms: float | None = None,
        warmup_inputs: Mapping[str, np.ndarray] | None = None,
        tag: str = "",
        metrics: BatchObserver | None = None,
    ):
        _check_settings(workers, intra_op_threads, max_batch_size, max_wait_ms, latency_cap_ms, max_queue_rows, overhead_ms)
        _shorten_gil_turns()
        _freeze_long_lived_objects()
        self.workers = workers
        self.intra_op_threads = intra_op_threads
        self.max_batch_size = max_batch_size
        self.max_wait_ms = max_wait_ms
        self.latency_cap_ms = latency_cap_ms
        self.overhead_ms = latency_cap_ms / 5 if overhead_ms is None else overhead_ms
        self.max_queue_rows = max_queue_rows or 32 * max_batch_size
        self.pad_inputs = frozenset(pad_inputs)
        self._observer = metrics
        self._warmup_inputs = dict(warmup_inputs) if warmup_inputs is not None else None

        first = self._load(model, tag)
        unknown = self.pad_inputs - {t.name for t in first.signature.inputs}
        if unknown:
            raise Invalid(f"pad_inputs names {sorted(unknown)}, which the model does not take; it takes {[t.name for t in first.signature.inputs]}.")
        if any(spec.shape and spec.shape[0] == 1 for spec in first.signature.inputs):
            self.max_batch_size = 1  # exported with a fixed batch of one: every row runs alone
        anchors, self._reference_width = self._warm_up(first)
        self._cost = CostModel(anchors)
        self._warn_if_cap_unreachable()

        self._cond = threading.Condition()
        self._model = first
        self._queue: deque[_Request] = deque()
        self._queued_rows = 0
        self._running = 0
        self._inside = 0  # requests between submission and their caller getting the result
        self._closing = False
        self.batches_run = 0
        self.rows_run = 0
        self.runs_inline = 0
        self.rounds_on_loop = 0
        self._round_loop: asyncio.AbstractEventLoop | None = None  # the loop whose turn will run the queue
        self._round_waiters: list[asyncio.Future[None]] = []
        self._threads = [threading.Thread(target=self._work_loop, name=f"batcher-worker-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    # --- public surface ---------------------------------------------------------------------------

    @property
    def tag(self) -> str:
        return self._model.tag

    @property
    def signature(self) -> Signature:
        return self._model.signature

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    @property
    def budget_ms(self) -> float:
        """The latency a request may spend in the runner: the cap less the HTTP margin."""
        return max(self.latency_cap_ms - self.overhead_ms, 0.0)

    def predicted_ms(self, rows: int) -> float:
        """The cost model's current prediction for a batch of `rows` warm-up-sized rows."""
        with self._cond:
            return self._cost.predict(rows)

    def row_limit(self) -> int:
        """The most warm-up-sized rows one batch may hold now: `max_batch_size`, or fewer when the
        cost model says a full batch would eat more than its share of the latency budget."""
        with self._cond:
            return self._row_limit()

    async def infer(self, inputs: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], RunStats]:
        """Run one request of n ≥ 1 rows in whatever batch it joins; its own rows of every output."""
        if self._batches_fit_a_loop_turn() and (waiter := self._join_round(asyncio.get_running_loop())) is not None:
            # Policy 4: queued for the round at the end of this loop turn.
            return await self._results(self._submit(inputs, on_loop=True), round_end=waiter)
        return await self._results(self._submit(inputs))

    async def _results(self, futures: list[concurrent.futures.Future[tuple[dict[str, np.ndarray], RunStats]]], *,
                       round_end: asyncio.Future[None] | None = None) -> tuple[dict[str, np.ndarray], RunStats]:
        """The submitted request's result once every chunk has run; a cancelled caller's chunks
        still queued are skipped, not run for nobody."""
        try:
            if round_end is not None:
                await round_end
            elif all(future.done() for future in futures):  # it ran right here, in this thread
                # Still counted as inside: let the loop's other tasks run (and submit) before this
                # caller can send its next request, so concurrent callers meet in the queue.
                await asyncio.sleep(0)
            # A worker thread may have taken chunks (even of a round's queue): wait for those.
            return _joined([future.result() if future.done() else await asyncio.wrap_future(future) for future in futures])
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        finally:
            self._leave()

    def _batches_fit_a_loop_turn(self) -> bool:
        # Read without the lock: a stale prediction only picks the other, equally correct, path.
        return self._cost.predict(self.max_batch_size) <= LOOP_BATCH_MS

    def _join_round(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None] | None:
        """A future that the end of this loop turn's round resolves (scheduling the round if none
        is open), or None while another event loop's round is open."""
        with self._cond:
            if self._round_loop is None or self._round_loop.is_closed():  # closed: its round never ran
                self._round_loop, self._round_waiters = loop, []
                loop.call_soon(self._run_round)
            elif self._round_loop is not loop:
                return None
            waiter: asyncio.Future[None] = loop.create_future()
            self._round_waiters.append(waiter)
            return waiter

    def _run_round(self) -> None:
        """Run everything queued, batch by batch, here on the event loop; then wake the callers."""
        with self._cond:
            waiters, self._round_waiters, self._round_loop = self._round_waiters, [], None
            self.rounds_on_loop += 1
        try:
            while True:
                with self._cond:
                    self._drop_cancelled()
                    if not self._queue:
                        break
                    batch = self._take(self._plan())
                    if batch is None:
                        continue
                    self._running += 1
                self._run_counted(batch, wake_workers=False)
        finally:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def run_direct(self, inputs: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], RunStats]:
        """`infer` for callers in a plain thread: blocks until the request's batch has run."""
        futures = self._submit(inputs)
        try:
            return _joined([future.result() for future in futures])
        finally:
            self._leave()

    def swap(self, model: bytes | ort.InferenceSession, tag: str) -> None:
        """Serve `model` (a new version with the same signature) from now on; nothing is dropped."""
        loaded = self._load(model, tag)
        why = self._model.signature.difference(loaded.signature)
        if why is not None:
            raise Invalid(f"Version {tag!r} cannot replace {self._model.tag!r} behind this endpoint: its signature differs ({why}). Deploy it as a new endpoint.")
        anchors, width = self._warm_up(loaded)
        with self._cond:
            if self._closing:
                raise Conflict("The runner is closed; it cannot swap versions.")
            self._model = loaded  # batches already handed to workers keep their own session
            self._cost = CostModel(anchors)
            self._reference_width = width
            self._cond.notify_all()
        log.info("endpoint runner now serves %s", tag)

    def close(self) -> None:
        """Run everything queued, then stop the threads. Later requests raise Conflict."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()

    # --- loading and warming up -------------------------------------------------------------------

    def _load(self, model: bytes | ort.InferenceSession, tag: str) -> _Model:
        session = model if isinstance(model, ort.InferenceSession) else build_session(model, self.intra_op_threads)
        signature = Signature.of(session)
        for spec in signature.inputs:
            spec.numpy_type  # noqa: B018 - raises Invalid for a type serving cannot feed
            if spec.shape is not None and len(spec.shape) == 0:
                raise Invalid(f"The model's input {spec.name!r} is a scalar; serving needs a leading batch dimension on every input.")
            if spec.shape and spec.shape[0] not in (None, 1):
                raise Invalid(f"The model's input {spec.name!r} has a fixed batch dimension of {spec.shape[0]}; export it with a dynamic batch axis.")
        return _Model(session, signature, tag)

    def _warm_up(self, model: _Model) -> tuple[list[tuple[float, float]], float]:
        """Time batch 1 and the largest batch on the warm-up input: the cost model's first points,
        and the width (elements per row) that defines one unit of work."""
        sample = self._sample_request(model.signature)
        width = _row_width(sample)
        anchors = []
        for rows in sorted({1, self.max_batch_size}):
            feeds = {name: np.repeat(array[:1], rows, axis=0) for name, array in sample.items()}
            timings: list[float] = []
            least, most = WARMUP_RUNS
            began = time.perf_counter()
            # One untimed run first: it allocates.
            while len(timings) < least + 1 or (len(timings) < most + 1 and time.perf_counter() - began < WARMUP_BUDGET_S):
                started = time.perf_counter()
                try:
                    model.session.run(None, feeds)
                except Exception as exc:
                    raise Invalid(f"The model failed its warm-up run at batch {rows}: {exc}") from None
                timings.append((time.perf_counter() - started) * 1000)
            anchors.append((float(rows), min(timings[1:])))
        return anchors, width

    def _sample_request(self, signature: Signature) -> dict[str, np.ndarray]:
        if self._warmup_inputs is not None:
            return self._validated(self._warmup_inputs, signature)[0]
        sample = {}
        for spec in signature.inputs:
            dims = (1,) + tuple(WARMUP_EXTENT if d is None else d for d in (spec.shape or (None, None))[1:])
            sample[spec.name] = np.full(dims, "", dtype=object) if spec.numpy_type is np.object_ else np.zeros(dims, spec.numpy_type)
        return sample

    def _warn_if_cap_unreachable(self) -> None:
        one_row = self._cost.predict(1)
        if one_row > RUN_SHARE * self.budget_ms:
            log.warning(
                "one row takes about %.1f ms, more than half the %.1f ms latency budget: latency_cap_ms=%s cannot be kept",
                one_row, self.budget_ms, self.latency_cap_ms,
            )

    # --- requests in ------------------------------------------------------------------------------

    def _submit(self, inputs: Mapping[str, Any], *, on_loop: bool = False) -> list[concurrent.futures.Future[tuple[dict[str, np.ndarray], RunStats]]]:
        arrays, rows = self._validated(inputs, self._model.signature)
        key = self._compatibility_key(arrays)
        chunk = self.max_batch_size
        now = time.perf_counter()
        if rows <= chunk:
            requests = [_Request(arrays, rows, key, False, now, concurrent.futures.Future())]
        else:
            requests = [
                _Request({n: a[start:start + chunk] for n, a in arrays.items()}, min(chunk, rows - start), key, True, now, concurrent.futures.Future())
                for start in range(0, rows, chunk)
            ]
        here = self._enqueue(requests, rows, on_loop=on_loop)
        if here is not None:
            self._run_counted(here)
        return [r.future for r in requests]

    def _validated(self, inputs: Mapping[str, Any], signature: Signature) -> tuple[dict[str, np.ndarray], int]:
        """The request's arrays in the model's types, and its row count; Invalid when it cannot run."""
        if not isinstance(inputs, Mapping):
            raise Invalid(f"A request must map input names to arrays; got {type(inputs).__name__}.")
        expected = [t.name for t in signature.inputs]
        missing = [n for n in expected if n not in inputs]
        extra = [n for n in inputs if n not in expected]
        if missing or extra:
            raise Invalid(f"The model takes inputs {expected}; the request is missing {missing} and has unexpected {extra}.")
        arrays = {spec.name: _as_input_array(spec, inputs[spec.name]) for spec in signature.inputs}
        counts = {name: array.shape[0] for name, array in arrays.items()}
        if len(set(counts.values())) != 1:
            raise Invalid(f"Every input of a request must have the same number of rows (first dimension); got {counts}.")
        rows = next(iter(counts.values()))
        if rows < 1:
            raise Invalid("A request must hold at least one row.")
        return arrays, rows

    def _compatibility_key(self, arrays: Mapping[str, np.ndarray]) -> tuple[Any, ...]:
        return tuple((name, a.shape[1:] if name not in self.pad_inputs else a.ndim) for name, a in arrays.items())

    def _enqueue(self, requests: list[_Request], rows: int, *, on_loop: bool = False) -> _Batch | None:
        """Queue the requests; or, when this is the only request in the runner and its run is
        predicted to be shorter than two thread wake-ups, hand it back to run in the caller's
        thread. (Only when alone: callers whose results are on their way are about to send
        more, and those should find a queue to batch in, not a loop thread busy running.)
        Requests `on_loop` wait for the loop's turn to end (policy 4): no worker is woken."""
        with self._cond:
            if self._closing:
                raise Conflict(f"The endpoint runner for {self._model.tag!r} is closed; it takes no requests.")
            if rows > self.max_queue_rows:
                raise Invalid(f"The request has {rows} rows, more than the {self.max_queue_rows} this endpoint may queue; send fewer rows per request.")
            if self._queued_rows + rows > self.max_queue_rows:
                retry_after = self._drain_estimate_s()
                raise Overloaded(
                    f"The endpoint is overloaded: {self._queued_rows} rows are queued (at most {self.max_queue_rows}); retry in about {retry_after:.1f} s.",
                    retry_after=retry_after,
                )
            self._inside += 1
            if on_loop:
                self._queue.extend(requests)
                self._queued_rows += rows
                self._report_queue()
                return None
            if self._inside == 1 and len(requests) == 1 and self._running == 0 and not self._queue:
                request = requests[0]
                units = request.rows * _row_width(request.inputs) / self._reference_width
                if self._cost.predict(units) <= INLINE_RUN_MS and request.future.set_running_or_notify_cancel():
                    self._running += 1
                    self.runs_inline += 1
                    return _Batch([request], request.rows, units, self._model)
            self._queue.extend(requests)
            self._queued_rows += rows
            self._report_queue()
            self._cond.notify_all()
            return None

    def _leave(self) -> None:
        with self._cond:
            self._inside -= 1

    def _drain_estimate_s(self) -> float:
        limit = self._row_limit()
        batches = math.ceil(self._queued_rows / limit)
        return self._cost.predict(limit) * batches / self.workers / 1000

    def _report_queue(self) -> None:
        if self._observer is not None:
            self._observer.queue_depth(self._queued_rows)

    # --- the workers ------------------------------------------------------------------------------

    def _work_loop(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch()
                if batch is None:
                    return
                self._running += 1
            self._run_counted(batch)

    def _run_counted(self, batch: _Batch, *, wake_workers: bool = True) -> None:
        """Run a batch already counted in `_running`, then uncount it (and let waiting workers
        re-plan: with nothing running they dispatch at once)."""
        try:
            self._run(batch)
        finally:
            with self._cond:
                self._running -= 1
                if wake_workers or self._closing:
                    self._cond.notify_all()

    def _next_batch(self) -> _Batch | None:
        """Wait (holding the lock between waits) until the policy releases a batch; None once
        the runner is closing and nothing is left to run."""
        while True:
            self._drop_cancelled()
            if not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
                continue
            plan = self._plan()
            delay = self._seconds_until_dispatch(plan)
            if delay > 0:
                self._cond.wait(delay)
                continue
            batch = self._take(plan)
            if batch is not None:
                return batch

    def _drop_cancelled(self) -> None:
        if any(r.future.cancelled() for r in self._queue):
            kept = [r for r in self._queue if not r.future.cancelled()]
            self._queued_rows = sum(r.rows for r in kept)
            self._queue = deque(kept)
            self._report_queue()

    def _row_limit(self) -> int:
        units = self._cost.units_within(RUN_SHARE * self.budget_ms)
        return max(1, min(self.max_batch_size, int(units)))

    def _plan(self) -> _Plan:
        oldest = self._queue[0]
        if oldest.alone:
            return _Plan([oldest], oldest.rows, self._units([oldest]), True)
        chosen, rows, full = [oldest], oldest.rows, False
        widths = _trailing_dims(oldest.inputs)
        run_limit_ms = RUN_SHARE * self.budget_ms
        for request in itertools.islice(self._queue, 1, None):
            if request.alone or request.key != oldest.key:
                continue
            grown = _max_dims(widths, _trailing_dims(request.inputs))
            units = (rows + request.rows) * _width(grown) / self._reference_width
            if rows + request.rows > self.max_batch_size or self._cost.predict(units) > run_limit_ms:
                full = True  # keep looking: a smaller request further back may still fit
                continue
            padding = units - (rows * _width(widths) + request.rows * _row_width(request.inputs)) / self._reference_width
            if self._cost.per_unit_ms * padding > self._cost.fixed_ms:
                full = True  # padding everyone to its length costs more than a run of its own
                continue
            chosen.append(request)
            rows += request.rows
            widths = grown
        full = full or rows >= self.max_batch_size
        return _Plan(chosen, rows, rows * _width(widths) / self._reference_width, full)

    def _units(self, requests: Sequence[_Request]) -> float:
        return sum(r.rows for r in requests) * _row_width(requests[0].inputs) / self._reference_width

    def _seconds_until_dispatch(self, plan: _Plan) -> float:
        if plan.full or self._closing or self._running == 0:
            return 0.0
        waited_ms = (time.perf_counter() - plan.requests[0].arrived) * 1000
        by_window = self.max_wait_ms - waited_ms
        by_budget = self.budget_ms - DISPATCH_SLACK_MS - self._cost.predict(plan.units) - waited_ms
        return max(0.0, min(by_window, by_budget)) / 1000

    def _take(self, plan: _Plan) -> _Batch | None:
        """Remove the plan's requests from the queue: a batch of those still wanted, if any."""
        taken = {id(r) for r in plan.requests}
        self._queue = deque(r for r in self._queue if id(r) not in taken)
        self._queued_rows -= plan.rows
        self._report_queue()
        live = [r for r in plan.requests if r.future.set_running_or_notify_cancel()]
        if not live:
            return None
        rows = sum(r.rows for r in live)
        return _Batch(live, rows, plan.units * rows / plan.rows, self._model)

    def _run(self, batch: _Batch) -> None:
        started = time.perf_counter()
        try:
            outputs = self._execute(batch)
        except Exception as exc:
            if len(batch.requests) > 1:
                self._run_each_alone(batch)
            else:
                _fail(batch.requests[0], exc)
            return
        seconds = time.perf_counter() - started
        with self._cond:
            if batch.model is self._model:  # a swapped-out session's timings no longer describe the model
                self._cost.observe(batch.units, seconds * 1000)
            self.batches_run += 1
            self.rows_run += batch.rows
        if self._observer is not None:
            self._observer.batch_ran(batch.rows, seconds)
        offset = 0
        for request in batch.requests:
            share = request.rows / batch.rows
            stats = RunStats((started - request.arrived) * 1000, seconds * 1000 * share, batch.rows, batch.model.tag)
            request.future.set_result(({name: out[offset:offset + request.rows] for name, out in outputs.items()}, stats))
            offset += request.rows

    def _execute(self, batch: _Batch) -> dict[str, np.ndarray]:
        names = [t.name for t in batch.model.signature.outputs]
        if len(batch.requests) == 1:
            feeds = batch.requests[0].inputs
        else:
            feeds = {
                spec.name: _stacked([r.inputs[spec.name] for r in batch.requests], pad=spec.name in self.pad_inputs)
                for spec in batch.model.signature.inputs
            }
        outputs = dict(zip(names, batch.model.session.run(names, feeds), strict=True))
        if len(batch.requests) > 1:
            for name, out in outputs.items():
                if out.ndim == 0 or out.shape[0] != batch.rows:
                    raise Invalid(f"The model's output {name!r} has no batch dimension ({out.shape} for {batch.rows} rows); its requests must run alone.")
        return outputs

    def _run_each_alone(self, batch: _Batch) -> None:
        for request in batch.requests:
            self._run(_Batch([request], request.rows, batch.units * request.rows / batch.rows, batch.model))


# --- arrays ---------------------------------------------------------------------------------------


def _check_settings(workers, intra_op_threads, max_batch_size, max_wait_ms, latency_cap_ms, max_queue_rows, overhead_ms) -> None:
    owner = "BatchingRunner"
    if workers < 1:
        raise invalid_parameter("workers", owner, "an int >= 1", workers)
    if intra_op_threads < 0:
        raise invalid_parameter("intra_op_threads", owner, "an int >= 0 (0: ONNX Runtime's default)", intra_op_threads)
    if max_batch_size < 1:
        raise invalid_parameter("max_batch_size", owner, "an int >= 1", max_batch_size)
    if max_wait_ms < 0:
        raise invalid_parameter("max_wait_ms", owner, "a number >= 0", max_wait_ms)
    if latency_cap_ms <= 0:
        raise invalid_parameter("latency_cap_ms", owner, "a number > 0", latency_cap_ms)
    if max_queue_rows is not None and max_queue_rows < 1:
        raise invalid_parameter("max_queue_rows", owner, "an int >= 1 or None", max_queue_rows)
    if overhead_ms is not None and not 0 <= overhead_ms < latency_cap_ms:
        raise invalid_parameter("overhead_ms", owner, f"a number in [0, latency_cap_ms={latency_cap_ms})", overhead_ms)


def _as_input_array(spec: TensorSpec, value: Any) -> np.ndarray:
    target = spec.numpy_type
    try:
        array = np.asarray(value, dtype=object if target is np.object_ else None)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"Input {spec.name!r} is not a rectangular array: {exc}") from None
    if target is np.object_:
        if array.size and not all(isinstance(v, str) for v in array.flat):
            raise Invalid(f"Input {spec.name!r} must hold strings.")
    elif array.dtype != target:
        if array.size and not np.can_cast(array.dtype, target, casting="same_kind"):
            raise Invalid(f"Input {spec.name!r} must be {np.dtype(target).name}; got {array.dtype.name} values that do not convert without loss.")
        array = array.astype(target)
    if spec.shape is not None:
        if array.ndim != len(spec.shape):
            raise Invalid(f"Input {spec.name!r} must have {len(spec.shape)} dimensions {_shape_text(spec.shape)}; got shape {list(array.shape)}.")
        for axis, (want, got) in enumerate(zip(spec.shape, array.shape, strict=True)):
            if axis > 0 and want is not None and want != got:
                raise Invalid(f"Input {spec.name!r} must have shape {_shape_text(spec.shape)}; got {list(array.shape)}.")
    if array.ndim == 0:
        raise Invalid(f"Input {spec.name!r} needs a leading batch dimension; got a scalar.")
    return np.ascontiguousarray(array)


def _shape_text(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("n" if i == 0 else ("?" if d is None else str(d)) for i, d in enumerate(shape)) + "]"


def _trailing_dims(inputs: Mapping[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    return {name: a.shape[1:] for name, a in inputs.items()}


def _max_dims(a: dict[str, tuple[int, ...]], b: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    return {name: tuple(max(x, y) for x, y in zip(a[name], b[name], strict=True)) for name in a}


def _width(dims: Mapping[str, tuple[int, ...]]) -> float:
    """Elements per row over all inputs: how much work one row is, relative to other rows."""
    return float(sum(math.prod(d) for d in dims.values())) or 1.0


def _row_width(inputs: Mapping[str, np.ndarray]) -> float:
    return _width(_trailing_dims(inputs))


def _stacked(arrays: list[np.ndarray], *, pad: bool) -> np.ndarray:
    if not pad or len({a.shape[1:] for a in arrays}) == 1:
        return np.concatenate(arrays, axis=0)
    trailing = tuple(max(dims) for dims in zip(*(a.shape[1:] for a in arrays), strict=True))
    rows = sum(a.shape[0] for a in arrays)
    filler = "" if arrays[0].dtype == np.object_ else 0
    out = np.full((rows, *trailing), filler, dtype=arrays[0].dtype)
    offset = 0
    for a in arrays:
        out[(slice(offset, offset + a.shape[0]), *(slice(0, d) for d in a.shape[1:]))] = a
        offset += a.shape[0]
    return out


def _fail(request: _Request, exc: Exception) -> None:
    if not isinstance(exc, Invalid):
        exc = Invalid(f"The model could not run on this request: {exc}")
    request.future.set_exception(exc)


def _joined(results: list[tuple[dict[str, np.ndarray], RunStats]]) -> tuple[dict[str, np.ndarray], RunStats]:
    """One request's result from its chunks' results (a single chunk passes through)."""
    if len(results) == 1:
        return results[0]
    outputs = {name: np.concatenate([out[name] for out, _ in results], axis=0) for name in results[0][0]}
    stats = [s for _, s in results]
    return outputs, RunStats(
        queue_ms=max(s.queue_ms for s in stats), compute_ms=sum(s.compute_ms for s in stats),
        batch_rows=max(s.batch_rows for s in stats), tag=stats[-1].tag,
    )
