"""ASGI middleware in front of the routes: the request body's limits and the access log.

The body is read here, up to ``max_body_bytes`` and within ``body_timeout_s``, before the
routes see it: a body that announces or reaches more bytes is answered 413 without being
read further, a client that sends too slowly 408, a body that is not declared JSON 415,
bytes that are not UTF-8 400. The routes then get the whole body at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, MutableMapping

from nlpkit.serve.settings import ServeSettings

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.serve.metrics import Metrics

log = logging.getLogger("nlpkit.serve")
access = logging.getLogger("nlpkit.serve.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_TYPES = ("application/json",)


class Refused(Exception):
    """A request answered with ``status`` and a JSON error (naming ``limit`` if one was passed)."""

    def __init__(self, status: int, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.limit = limit


async def send_error(send: Send, status: int, message: str, limit: str | None = None) -> None:
    """A JSON error answer: ``{"error": message[, "limit": name]}``."""
    body = json.dumps({"error": message, **({"limit": limit} if limit else {})}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimits:
    """Reads a POST body within the limits, then hands it to ``app`` in one message."""

    def __init__(self, app: App, settings: ServeSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            _check_headers(scope, self.settings.max_body_bytes)
            body = await asyncio.wait_for(self._read(receive), self.settings.body_timeout_s)
        except Refused as refused:
            await send_error(send, refused.status, str(refused), refused.limit)
            return
        except asyncio.TimeoutError:
            await send_error(send, 408, f"the request body took over {self.settings.body_timeout_s:g} s to arrive",
                             "body_timeout_s")
            return
        if body is None:  # the client went away while sending
            return
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            await send_error(send, 400, f"the body is not UTF-8 text (byte 0x{body[exc.start]:02x} at offset "
                             f"{exc.start}); JSON is sent as UTF-8")
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        limit, body = self.settings.max_body_bytes, bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > limit:
                raise Refused(413, f"the request body is over the limit of {limit:,} bytes", "max_body_bytes")
            if not message.get("more_body", False):
                return bytes(body)


def _check_headers(scope: Scope, limit: int) -> None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in JSON_TYPES and not kind.endswith("+json"):
        raise Refused(415, f"expected a JSON body (Content-Type: application/json), got {kind or 'no content type'}")
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise Refused(413, f"the request body ({int(length):,} bytes) is over the limit of {limit:,} bytes",
                      "max_body_bytes")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replayed


class AccessLog:
    """One line per request: client, method, path, status, latency in milliseconds; and
    the same in ``metrics``."""

    def __init__(self, app: App, metrics: "Metrics | None" = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            client = scope.get("client") or ("-", 0)
            access.info('%s:%s "%s %s" %s %.1f ms', client[0], client[1], scope["method"], scope["path"],
                        status or "-", seconds * 1000)
            if self.metrics is not None:
                self.metrics.request(scope["method"], scope["path"], status, seconds)
