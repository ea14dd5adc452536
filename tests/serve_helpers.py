"""The real server on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx

from nlpkit.serve.settings import ServeSettings

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(run: Path, port: int, *options: str) -> "subprocess.Popen[str]":
    """``nlpkit serve RUN --port PORT [options]`` as a user starts it (stdout and stderr piped)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")]), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "nlpkit", "serve", str(run), "--port", str(port), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_ready(url: str, timeout: float = 60.0) -> httpx.Response:
    """Poll ``/health`` until it answers 200 (the model is loaded); the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = httpx.get(f"{url}/health", timeout=5)
            if answer.status_code == 200 or time.monotonic() > deadline:
                return answer
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.25)  # each poll is a line of the server's log: a piped log must not fill its pipe


@contextlib.contextmanager
def serving(path: Path, **settings: object) -> Iterator[tuple[str, object]]:
    """(base URL, the ASGI app) of ``nlpkit.serve``'s application for ``path``, run by
    uvicorn in a thread until the block ends."""
    import uvicorn

    from nlpkit.serve.app import create_app

    port = free_port()
    app = create_app(path, ServeSettings(port=port, **settings))  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_ready(url).status_code == 200
        yield url, app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def same_answer(got: Any, want: Any, tolerance: float = 1e-6) -> bool:
    """JSON ``got`` is ``want`` (what ``predict`` returned): labels, spans and offsets
    exactly, scores to ``tolerance`` (another batch's padding moves the last bits)."""
    if isinstance(want, bool) or want is None or isinstance(want, str):
        return got == want
    if isinstance(want, (int, float)):
        return isinstance(got, (int, float)) and abs(got - want) <= tolerance
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == {str(k) for k in want} and all(
            same_answer(got[str(k)], v, tolerance) for k, v in want.items())
    if isinstance(want, (list, tuple)):
        return isinstance(got, list) and len(got) == len(want) and all(map(same_answer, got, want))
    raise TypeError(f"predict returned a {type(want).__name__}, which JSON does not hold")


def serves_as_predicted(run: Path, inputs: list[Any]) -> list[Any]:
    """Serve ``run``, send ``inputs`` one per request (concurrently, so they share forward
    passes) and all in one request; assert every answer is what ``nlpkit.load(run).predict``
    gives for the same input. The answers, for the caller's own checks. (An input that is
    a list, pre-split words or a pair, goes alone inside a list: a top-level list is
    always a list of inputs.)"""
    import nlpkit

    predictor = nlpkit.load(run)
    wanted = predictor.predict(inputs)
    # Each alone, as predict answers it alone (a task may number inputs by position: QA's ids).
    wanted_alone = [predictor.predict([x])[0] if isinstance(x, list) else predictor.predict(x) for x in inputs]
    with serving(run, max_wait_ms=100) as (url, _):
        with httpx.Client(timeout=60) as http:
            listed = http.post(f"{url}/predict", json=inputs)
        alone: dict[int, Any] = {}

        def ask(i: int) -> None:
            answer = httpx.post(f"{url}/predict", json=[inputs[i]] if isinstance(inputs[i], list) else inputs[i],
                                timeout=60)
            assert answer.status_code == 200, answer.text
            alone[i] = answer.json()[0] if isinstance(inputs[i], list) else answer.json()

        askers = [threading.Thread(target=ask, args=(i,)) for i in range(len(inputs))]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join()
    assert listed.status_code == 200, listed.text
    assert same_answer(listed.json(), wanted), (listed.json(), wanted)
    assert len(alone) == len(inputs)  # an asker that failed says why in the output
    for i, want in enumerate(wanted_alone):
        assert same_answer(alone[i], want), (i, alone[i], want)
    return listed.json()
