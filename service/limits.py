"""A deadline for request bodies: WSGI middleware for slow senders.

gunicorn reads a body only when the application asks for it, from a blocking
socket, so a client that sends its body a byte at a time would hold a thread
for as long as it likes. `BodyDeadline` gives every request's body a
deadline: each read from the socket may wait only for the time left, and a
body not in by then is answered 408. (Headers are guarded by the worker,
`evokt.service.http_worker`.)
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from werkzeug.exceptions import RequestTimeout


class _DeadlineStream:
    """`wsgi.input` whose reads fail with 408 once the deadline has passed."""

    def __init__(self, stream: Any, sock: socket.socket, deadline: float, seconds: float):
        self.stream = stream
        self.sock = sock
        self.deadline = deadline
        self.seconds = seconds

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout()
        self.sock.settimeout(remaining)
        try:
            return method(*args)
        except TimeoutError:
            raise self._timeout() from None

    def _timeout(self) -> RequestTimeout:
        return RequestTimeout(f"the request body did not arrive within {self.seconds:g} seconds")

    def read(self, size: int = -1) -> bytes:
        return self._call(self.stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._call(self.stream.readline, size)

    def readinto(self, buffer: bytearray) -> int:
        data = self._call(self.stream.read, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __iter__(self) -> Iterable[bytes]:
        return iter(self.readline, b"")


class BodyDeadline:
    """WSGI middleware: a request's body must arrive within `seconds`.

    Only under gunicorn (which puts the client socket in the environment as
    `gunicorn.socket`); elsewhere the application is called as it is.

    Args:
        app: The WSGI application.
        seconds: Time a client has to send a body, from the request's start.
    """

    def __init__(self, app: Callable, seconds: float):
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            environ["wsgi.input"] = _DeadlineStream(
                environ["wsgi.input"], sock, time.monotonic() + self.seconds, self.seconds)
        return self.app(environ, start_response)
