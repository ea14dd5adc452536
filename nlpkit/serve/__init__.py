"""``nlpkit serve``: a run directory or an export behind HTTP (FastAPI on uvicorn), with
dynamic batching (:mod:`nlpkit.serve.batcher`), request limits
(:mod:`nlpkit.serve.middleware`) and one access-log line per request. Needs the
``serve`` extra: ``pip install 'nlpkit[serve]'``."""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nlpkit.errors import NlpkitError
from nlpkit.serve.settings import ServeSettings

__all__ = ["ServeSettings", "serve"]

ENVIRONMENT = "NLPKIT_SERVE"
"""Where ``--workers N`` hands each worker process the model's path and the settings."""
SHUTDOWN_GRACE_S = 30
"""How long SIGTERM waits for requests in flight before it closes their connections."""


def serve(path: str | Path, settings: ServeSettings | None = None) -> None:
    """Serve the model at ``path`` until SIGINT or SIGTERM, which stop taking connections
    and finish the requests in flight first. :class:`NlpkitError` if the model cannot be
    loaded (after the server has said so in its log)."""
    import uvicorn

    settings = settings or ServeSettings()
    setup_logging()
    options: dict[str, Any] = dict(host=settings.host, port=settings.port, log_config=None, access_log=False,
                                   timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    if settings.workers > 1:
        os.environ[ENVIRONMENT] = json.dumps({"path": str(path), "settings": asdict(settings)})
        uvicorn.run(f"{__name__}:app_from_environment", factory=True, workers=settings.workers, **options)
        return
    failed: list[bool] = []
    server: uvicorn.Server

    def stop() -> None:
        failed.append(True)
        server.should_exit = True

    from nlpkit.serve.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(path, settings, on_failure=stop), **options))
    server.run()
    if failed:
        raise NlpkitError(f"{path}: the model could not be loaded; the server stopped (its log says why)")


def app_from_environment() -> Any:
    """The application of one worker process of ``--workers N`` (uvicorn imports it)."""
    from nlpkit.serve.app import create_app

    setup_logging()
    given = json.loads(os.environ[ENVIRONMENT])
    return create_app(given["path"], ServeSettings(**given["settings"]))


def setup_logging() -> None:
    """The server's log on stderr, one timestamped line per event (uvicorn's included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    for name in ("nlpkit", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
