"""What ``nlpkit serve`` is told: where to listen, how to batch, what to refuse."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    """Loopback unless told otherwise: a model server is not for the whole network by default."""
    port: int = 8000
    workers: int = 1
    threads: int | None = None
    """torch's threads in each worker; None: the cores this process may use, divided among the workers."""
    max_batch_size: int = 32
    """Inputs per forward pass; 1 turns batching off."""
    max_wait_ms: float = 5.0
    """How long the first waiting input waits for others to join its batch."""
    max_body_bytes: int = 1_000_000
    max_inputs: int = 256
    """Inputs in one request (a list given to /predict, texts given to /embed)."""
    max_chars: int = 20_000
    """Characters of one text (each text of a pair or of a question and its context)."""
    body_timeout_s: float = 30.0
    """A client that takes longer to send its body gets 408 (slow clients hold no slot for ever)."""

    def limits(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("host", "port", "workers", "threads")}
