"""``GET /metrics``: the server's counters in Prometheus' text format (prometheus_client,
one registry per application, so that two servers in one process count apart)."""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """Requests by method, path and status; their latency by path; inputs per forward pass
    by endpoint. Paths other than the server's own count as ``other`` (a scan of random
    paths must not grow the registry)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.registry = CollectorRegistry()
        self.paths = frozenset(paths)
        self.requests = Counter("nlpkit_requests", "Requests answered, by method, path and status.",
                                ["method", "path", "status"], registry=self.registry)
        self.latency = Histogram("nlpkit_request_seconds", "Seconds from a request's arrival to its answer.",
                                 ["path"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batches = Histogram("nlpkit_batch_size", "Inputs per forward pass.", ["endpoint"],
                                 buckets=BATCH_BUCKETS, registry=self.registry)

    def request(self, method: str, path: str, status: int, seconds: float) -> None:
        path = path if path in self.paths else "other"
        self.requests.labels(method, path, str(status)).inc()
        self.latency.labels(path).observe(seconds)

    def batch(self, endpoint: str, size: int) -> None:
        self.batches.labels(endpoint).observe(size)

    def render(self) -> bytes:
        return generate_latest(self.registry)
