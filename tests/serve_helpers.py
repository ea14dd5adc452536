"""The real server on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx

from nlpkit.serve.settings import ServeSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
        time.sleep(0.05)


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
