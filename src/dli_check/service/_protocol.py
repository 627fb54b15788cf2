"""The HTTP connection guard of ``dli-check serve``: uvicorn's h11 protocol with a time
limit on reading each request and a limit on open connections.

uvicorn waits on a half-sent request for as long as the client likes, and answers 503
past its concurrency limit only once a request's headers are complete. So a thousand
clients that send half a request each hold every connection (and file descriptor) the
service has. Here each request must arrive whole (headers and body) within
`read_timeout` seconds of its first byte or the connection is closed with 408; a
connection beyond `max_connections` is answered 503 at once and closed. Each kind of
event is logged once per `LOG_INTERVAL`, with a count, never once per connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

LOG_INTERVAL = 60.0
"""Seconds between two log lines about the same kind of event."""
log = logging.getLogger("dli_check.service.app")


class Throttled:
    """Log lines that say how often something happened, at most one per interval."""

    def __init__(self, interval: float = LOG_INTERVAL) -> None:
        self.interval = interval
        self.counts: dict[str, int] = {}
        self.last: dict[str, float] = {}

    def note(self, event: str) -> None:
        """Count one `event`; log it now if its interval has passed."""
        self.counts[event] = self.counts.get(event, 0) + 1
        now = time.monotonic()
        if now - self.last.get(event, -self.interval) >= self.interval:
            log.warning("%s (%d since the last report)", event, self.counts[event])
            self.last[event], self.counts[event] = now, 0


def _answer(status: str, message: str, extra: str = "") -> bytes:
    body = ('{"error":"' + message + '"}').encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    ).encode() + body


_BUSY = _answer("503 Service Unavailable", "too many connections; try again", "retry-after: 1\r\n")
_TOO_SLOW = _answer("408 Request Timeout", "the request did not arrive in time")


def guarded_protocol(max_connections: int, read_timeout: float) -> type[asyncio.Protocol]:
    """An h11 protocol class with these limits (uvicorn's ``http`` setting)."""
    events = Throttled()

    class Guarded(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                events.note(f"connections over the limit of {max_connections} refused (503)")
                transport.write(_BUSY)
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._deadline is None:  # the first bytes of a new request on this connection
                self._arm()
            super().data_received(data)

        def on_response_complete(self) -> None:
            self._disarm()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(read_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            cycle = self.cycle
            if cycle is not None and not cycle.more_body:
                self._deadline = None  # read whole: the answer is being worked on
                return
            events.note(f"requests not read whole within {read_timeout:g} s closed (408)")
            if cycle is None or not cycle.response_started:
                self.transport.write(_TOO_SLOW)
            self.transport.close()

    return Guarded


class OncePerInterval(logging.Filter):
    """Lets a log record through once per interval per message (asyncio logs every failed
    ``accept()`` when file descriptors run out: thousands a second)."""

    def __init__(self, interval: float = LOG_INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self.last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        key = str(record.msg)
        if now - self.last.get(key, -self.interval) < self.interval:
            return False
        self.last[key] = now
        return True
