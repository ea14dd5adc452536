"""``nlpkit serve --workers 2``: two processes answer on one port, each with its own copy
of the model, and SIGTERM stops every one of them."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from tests.serve_helpers import free_port, start, wait_ready  # noqa: E402

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended and not yet reaped, counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_two_workers_share_the_port_and_stop_on_sigterm(tiny_classifier_run: Path) -> None:
    port = free_port()
    server = start(tiny_classifier_run, port, "--workers", "2")
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_ready(url, timeout=120).status_code == 200
        pids: dict[int, int] = {}
        deadline = time.monotonic() + 60
        # The kernel spreads new connections over the workers' sockets; a fresh
        # connection per request reaches both soon. A worker that still loads answers 503.
        while len(pids) < 2 and time.monotonic() < deadline:
            answer = httpx.get(f"{url}/info", timeout=30, headers={"connection": "close"})
            if answer.status_code == 200:
                info = answer.json()
                pids[info["pid"]] = pids.get(info["pid"], 0) + 1
                assert info["threads"] >= 1 and info["task"] == "classification"
        assert len(pids) == 2, f"only worker {list(pids)} answered in 60 s"
        assert server.pid not in pids  # the workers are children; the parent only supervises
        predictions = {httpx.post(f"{url}/predict", json="i loved it", headers={"connection": "close"},
                                  timeout=30).json()["label"] for _ in range(8)}
        assert len(predictions) == 1  # both copies of the model answer alike
        server.send_signal(signal.SIGTERM)
        _, log = server.communicate(timeout=90)
    finally:
        if server.poll() is None:
            server.kill()
    assert all(not alive(pid) for pid in pids), log
    # The parent stops each worker with SIGTERM, waits for them, then ends itself.
    assert server.returncode == 0 and "Received SIGTERM, exiting." in log, log
    for pid in pids:
        assert f"Finished server process [{pid}]" in log, log  # each worker shut down gracefully
    assert log.index("Finished server process") < log.index("Stopping parent process")
