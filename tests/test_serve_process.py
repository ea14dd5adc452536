"""``nlpkit serve`` as a user starts it (a subprocess on a free loopback port), and its
OpenAPI schema fuzzed by schemathesis: graceful SIGTERM, the access log, no 5xx."""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

httpx = pytest.importorskip("httpx")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.serve_helpers import free_port, serving, start, wait_ready  # noqa: E402

pytestmark = pytest.mark.integration


def test_sigterm_finishes_the_requests_in_flight(tiny_classifier_run: Path) -> None:
    port = free_port()
    # A long batching wait keeps the request in flight when SIGTERM comes.
    server = start(tiny_classifier_run, port, "--max-wait-ms", "2000")
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_ready(url).status_code == 200
        answers: list[Any] = []
        asking = threading.Thread(target=lambda: answers.append(httpx.post(f"{url}/predict", json="i loved it",
                                                                            timeout=60)))
        asking.start()
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        asking.join()
        _, log = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert answers[0].status_code == 200 and answers[0].json()["label"] in ("0", "1")
    # uvicorn finishes, then ends as the signal would have: the exit status says SIGTERM.
    assert server.returncode == -signal.SIGTERM, log
    assert log.index("Waiting for connections to close") < log.index('"POST /predict" 200')
    assert f"Uvicorn running on http://127.0.0.1:{port}" in log  # loopback unless told otherwise
    assert re.search(r'127\.0\.0\.1:\d+ "POST /predict" 200 \d+\.\d ms', log), log
    assert re.search(r'"GET /health" 200 \d+\.\d ms', log)


def test_a_damaged_run_is_refused_before_the_server_starts(tmp_path: Path) -> None:
    server = start(tmp_path, free_port())
    _, log = server.communicate(timeout=60)
    assert server.returncode == 2 and "is not a finished nlpkit run directory" in log


@pytest.fixture(scope="module")
def api(tiny_classifier_run: Path) -> Iterator[str]:
    with serving(tiny_classifier_run, max_wait_ms=1, max_inputs=16, max_chars=500, max_body_bytes=20_000) as (url, _):
        yield url


def test_fuzzed_requests_get_no_server_error(api: str) -> None:
    """Every operation of the schema, 40 generated requests each (valid and invalid
    bodies), under all of schemathesis' checks: no 5xx, every answer among the documented
    responses and matching their schemas, schema-valid bodies accepted (the schema names
    the task's own inputs) and invalid ones refused."""
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /predict", "POST /embed", "GET /health", "GET /info"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            case.call_and_validate(base_url=api)

        call()
