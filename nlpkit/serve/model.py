"""The served model: loaded in the background, then predicting and embedding in batches."""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from nlpkit.errors import NlpkitError
from nlpkit.rundir import ExportDir, RunDir
from nlpkit.serve.batcher import Batcher
from nlpkit.serve.settings import ServeSettings

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.predictor import Predictor

log = logging.getLogger("nlpkit.serve")

EmbedItem = tuple[str, str, bool]
"""(text, pooling, normalize)."""


def export_format(path: Path) -> str:
    """``run`` for a run directory, else the export's format (``hf``, ``onnx``)."""
    exported = ExportDir(path)
    return exported.read_meta()["format"] if exported.is_export else "run"


class ServedModel:
    """A run directory or an export, loaded once (:meth:`load`, in a thread) and served
    through two batchers that share one worker thread: the model runs one batch at a time."""

    def __init__(self, path: Path, settings: ServeSettings, on_batch: Callable[[str, int], None] | None = None) -> None:
        self.path = path
        self.settings = settings
        self.format = export_format(path)
        self.can_embed = self.format != "onnx"
        self.status, self.error = "loading", None
        self.predictor: "Predictor | None" = None
        self.info: dict[str, Any] = {}
        self.threads = 0
        """torch's threads for the forward passes, once loaded."""
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlpkit-model")
        size, wait = settings.max_batch_size, settings.max_wait_ms
        def observe(endpoint: str) -> Callable[[int], None] | None:
            return None if on_batch is None else lambda size: on_batch(endpoint, size)

        self.predictions: Batcher[Any, dict[str, Any]] = Batcher(
            self._predict, self.executor, max_batch_size=size, max_wait_ms=wait, on_batch=observe("predict"))
        self.embeddings: Batcher[EmbedItem, list[float]] = Batcher(
            self._embed, self.executor, max_batch_size=size, max_wait_ms=wait, on_batch=observe("embed"))

    async def start(self, on_failure: Callable[[], None] | None = None) -> None:
        self.predictions.start()
        self.embeddings.start()
        loop = asyncio.get_running_loop()
        try:
            self.predictor = await loop.run_in_executor(self.executor, self._load)
        except NlpkitError as exc:
            self.status, self.error = "failed", str(exc)
            log.error("cannot serve %s: %s", self.path, exc)
            if on_failure is not None:
                on_failure()
            return
        self.info = describe(self.path, self.predictor, self.format, self.settings, self.threads)
        self.status = "ready"
        log.info("serving %s (task %s, %s)", self.path, self.info["task"], self.info["engine"])

    async def stop(self) -> None:
        await self.predictions.stop()
        await self.embeddings.stop()
        self.executor.shutdown(wait=True)

    def _load(self) -> "Predictor":
        import torch

        from nlpkit.predictor import Predictor

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        # Set in this thread, which runs every forward pass; worker processes share the cores.
        self.threads = self.settings.threads or max(1, cores // self.settings.workers)
        torch.set_num_threads(self.threads)
        return Predictor.load(self.path)

    def _predict(self, examples: list[Any]) -> list[dict[str, Any]]:
        assert self.predictor is not None
        return self.predictor.predict_examples(examples, batch_size=self.settings.max_batch_size)

    def _embed(self, items: list[EmbedItem]) -> list[list[float]]:
        assert self.predictor is not None
        embedder = self.predictor.embedder()
        rows: list[list[float]] = [[] for _ in items]
        for pooling, normalize in {(p, n) for _, p, n in items}:
            chosen = [i for i, (_, p, n) in enumerate(items) if (p, n) == (pooling, normalize)]
            vectors = embedder.embed([items[i][0] for i in chosen], batch_size=len(chosen), pooling=pooling,  # type: ignore[arg-type]
                                     normalize=normalize)
            for i, vector in zip(chosen, vectors):
                rows[i] = vector.tolist()
        return rows


def describe(path: Path, predictor: "Predictor", fmt: str, settings: ServeSettings, threads: int) -> dict[str, Any]:
    """What ``GET /info`` answers."""
    from nlpkit.predictor import read_meta
    from nlpkit.recipe import read_yaml
    from nlpkit.version import __version__

    meta = read_meta(path)
    saved = ExportDir(path).saved if fmt != "run" else RunDir(path).model_dir
    encoder = (read_yaml(saved.recipe).get("encoder") or {}).get("name")
    labels = (meta.get("state") or {}).get("labels")
    return {
        "task": predictor.task.name,
        "labels": [str(label) for label in labels] if isinstance(labels, list) else None,
        "encoder": str(encoder) if encoder is not None else None,
        "format": fmt,
        "engine": "onnxruntime" if fmt == "onnx" else "torch",
        "precision": predictor.precision,
        "max_length": predictor.task.settings.max_length,
        "embedding_dimension": predictor.embedder().dimension if fmt != "onnx" else None,
        "nlpkit_version": __version__,
        "plugin": meta.get("plugin"),
        "plugin_version": meta.get("plugin_version"),
        "limits": settings.limits(),
        "pid": os.getpid(),
        "threads": threads,
    }
