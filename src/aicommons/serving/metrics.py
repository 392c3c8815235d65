"""Prometheus metrics of the serving engine, for the API's `/metrics` route.

Each `ServingMetrics` keeps its own `CollectorRegistry` rather than prometheus_client's global
one, so several apps (and tests) in one process never collide over metric names.

Several API processes (`aicommons serve --api-processes N`) run prometheus_client's multiprocess
mode: the supervisor sets `PROMETHEUS_MULTIPROC_DIR` before they start, every process writes its
values to its own memory-mapped files there, and whichever process answers `/metrics` (or a
console page's latency figures) reads all of them, summed. A gauge cannot be removed in that
mode, so a series that ends (an endpoint's previous version) is set to 0 instead.

Exported series (all prefixed `aicommons_serving_`):
- `request_seconds{endpoint}` histogram: end-to-end latency of predict requests (1 ms .. 5 s);
- `requests_total{endpoint, org, status}` counter: requests by calling org and outcome;
- `compute_seconds_total{endpoint, org}` counter: model compute each org's requests used;
- `batch_rows{endpoint}` histogram: rows per batch run (batching at work when above 1);
- `batch_seconds{endpoint}` histogram: run time of each batch;
- `queue_rows{endpoint}` gauge: rows waiting for a worker;
- `version{endpoint, version}` gauge: 1 for the version each endpoint serves now.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

REQUEST_SECONDS = "aicommons_serving_request_seconds"
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch, read when it is imported

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)
BATCH_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass(frozen=True)
class LatencyHistogram:
    """One endpoint's request latencies since this process started, in the histogram's buckets."""

    upper_bounds_s: tuple[float, ...]  # each bucket's upper bound; the last is infinity
    counts: tuple[int, ...]  # requests in each bucket (not cumulative)

    @property
    def requests(self) -> int:
        return sum(self.counts)

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding the q-quantile request (a p95 "at most"), or None
        without requests; infinity when it lies beyond the last finite bucket."""
        if not 0 < q <= 1:
            raise ValueError(f"A quantile lies in (0, 1]; got {q}.")
        wanted, seen = q * self.requests, 0
        for bound, count in zip(self.upper_bounds_s, self.counts, strict=True):
            seen += count
            if count and seen >= wanted:
                return bound
        return None


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        prefix = "aicommons_serving_"
        self.request_seconds = Histogram(
            REQUEST_SECONDS, "Latency of predict requests, from arrival to response.",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.requests = Counter(
            prefix + "requests", "Predict requests by endpoint, calling org and status.",
            ["endpoint", "org", "status"], registry=self.registry,
        )
        self.compute_seconds = Counter(
            prefix + "compute_seconds", "Model compute used by each calling org's requests.",
            ["endpoint", "org"], registry=self.registry,
        )
        self.batch_rows = Histogram(
            prefix + "batch_rows", "Rows per batch run.", ["endpoint"], buckets=BATCH_ROW_BUCKETS, registry=self.registry,
        )
        self.batch_seconds = Histogram(
            prefix + "batch_seconds", "Run time of each batch.", ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.queue_rows = Gauge(prefix + "queue_rows", "Rows waiting for a worker.", ["endpoint"], registry=self.registry,
                                multiprocess_mode="livesum")
        self.version = Gauge(prefix + "version", "1 for the model version an endpoint serves.", ["endpoint", "version"],
                             registry=self.registry, multiprocess_mode="max")
        self.shared_dir = os.environ.get(MULTIPROCESS_DIR_ENV) or None
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()
        # Each request's labelled series, looked up once: `labels()` costs more than the update.
        self._request_series: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}

    def observe_request(self, endpoint: str, org: str, status: str, seconds: float, *, compute_seconds: float = 0.0) -> None:
        series = self._request_series.get((endpoint, org, status))
        if series is None:
            series = (self.request_seconds.labels(endpoint), self.requests.labels(endpoint, org, status), self.compute_seconds.labels(endpoint, org))
            self._request_series[(endpoint, org, status)] = series
        latency, requests, compute = series
        latency.observe(seconds)
        requests.inc()
        if compute_seconds:
            compute.inc(compute_seconds)

    def set_version(self, endpoint: str, version: str) -> None:
        with self._lock:
            previous = self._versions.get(endpoint)
            if previous == version:
                return
            if previous is not None:
                self._end_series(self.version, endpoint, previous)
            self.version.labels(endpoint, version).set(1)
            self._versions[endpoint] = version

    def forget_endpoint(self, endpoint: str) -> None:
        """Drop an endpoint's gauges (it was stopped or deleted); its counters keep their totals."""
        with self._lock:
            previous = self._versions.pop(endpoint, None)
            if previous is not None:
                self._end_series(self.version, endpoint, previous)
            try:
                self._end_series(self.queue_rows, endpoint)
            except KeyError:
                pass

    def _end_series(self, gauge: Gauge, *labels: str) -> None:
        if self.shared_dir:
            gauge.labels(*labels).set(0)
        else:
            gauge.remove(*labels)

    def batch_observer(self, endpoint: str) -> EndpointBatchObserver:
        """What a `BatchingRunner` reports batches and queue depth to, for this endpoint."""
        return EndpointBatchObserver(self, endpoint)

    def request_latency(self, endpoint: str) -> LatencyHistogram:
        """The endpoint's request latency histogram so far (empty buckets before its first call)."""
        return _request_latency(self._every_process(), endpoint)

    def render(self) -> tuple[bytes, str]:
        """The registry in Prometheus text format, and its content type."""
        return generate_latest(self._every_process()), CONTENT_TYPE_LATEST

    def _every_process(self) -> CollectorRegistry:
        """This process's registry; in multiprocess mode, one that reads every API process's files."""
        return _every_process(self.shared_dir) if self.shared_dir else self.registry


def shared_request_latency(endpoint: str) -> LatencyHistogram | None:
    """In multiprocess mode, the endpoint's latency histogram over every API process, read from
    their files by a process that may not have served it itself; else None."""
    shared_dir = os.environ.get(MULTIPROCESS_DIR_ENV)
    return _request_latency(_every_process(shared_dir), endpoint) if shared_dir else None


def _every_process(shared_dir: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=shared_dir)
    return registry


def _request_latency(registry: CollectorRegistry, endpoint: str) -> LatencyHistogram:
    cumulative = {bound: 0.0 for bound in (*LATENCY_BUCKETS, math.inf)}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == REQUEST_SECONDS + "_bucket" and sample.labels.get("endpoint") == endpoint:
                cumulative[float(sample.labels["le"])] = sample.value
    totals = list(cumulative.values())
    counts = [int(total - previous) for total, previous in zip(totals, [0.0, *totals[:-1]], strict=True)]
    return LatencyHistogram(tuple(cumulative), tuple(counts))


class EndpointBatchObserver:
    """A `batching.BatchObserver` writing one endpoint's batch and queue series."""

    def __init__(self, metrics: ServingMetrics, endpoint: str):
        self._rows = metrics.batch_rows.labels(endpoint)
        self._seconds = metrics.batch_seconds.labels(endpoint)
        self._queue = metrics.queue_rows.labels(endpoint)

    def batch_ran(self, rows: int, seconds: float) -> None:
        self._rows.observe(rows)
        self._seconds.observe(seconds)

    def queue_depth(self, rows: int) -> None:
        self._queue.set(rows)
