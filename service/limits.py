"""Limits on what one request may hold: its body's time and form, and event-stream slots.

gunicorn reads a body only when the application asks for it, from a blocking
socket, so a client that sends its body a byte at a time would hold a thread
for as long as it likes. `BodyDeadline` gives every request's body a
deadline: each read from the socket may wait only for the time left, and a
body not in by then is answered 408. A chunked body that breaks its coding
is answered 400 (gunicorn's reader raises its own parse errors, which would
be a 500). (Headers are guarded by the worker, `evokt.service.http_worker`.)

`StreamSlots` counts the event streams of the whole service, across gunicorn's
worker processes: a stream holds a lock on one of `capacity` files.
"""

from __future__ import annotations

import fcntl
import os
import random
import select
import socket
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest
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
        except ParseException as error:
            raise BadRequest(f"the request body's chunked coding is malformed: {error}") from None

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


class StreamSlots:
    """At most `capacity` event streams open at once, in all of the service's processes.

    Each open stream holds an exclusive `flock` on one of `capacity` files in
    `directory`: gunicorn's workers share them without talking to each other,
    and the kernel frees a dead worker's slots. (A count per worker would let
    streams in unevenly: the connections do not land evenly on the workers.)

    Args:
        directory: Where the slot files live, created readable by its owner only.
        capacity: The most streams open at once.
    """

    def __init__(self, directory: str, capacity: int):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.directory = directory
        self.capacity = capacity
        # Made now, so opening a stream creates nothing (it works on a full disk too).
        for slot in range(capacity):
            os.close(os.open(self._path(slot), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))

    def _path(self, slot: int) -> str:
        return os.path.join(self.directory, str(slot))

    def acquire(self) -> int | None:
        """A free slot, held until `release`; None when all are taken."""
        # Starting anywhere spreads the streams opening at once over the slots.
        start = random.randrange(self.capacity)
        for offset in range(self.capacity):
            descriptor = os.open(self._path((start + offset) % self.capacity),
                                 os.O_RDONLY | os.O_CLOEXEC)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            return descriptor
        return None

    def release(self, slot: int) -> None:
        """Frees a slot `acquire` gave (closing the file drops its lock)."""
        os.close(slot)


def client_gone(sock: socket.socket | None) -> bool:
    """Whether the client of a request has closed its connection.

    A stream that sends nothing for a while would otherwise hold its slot and
    thread until its next write failed, long after the client left.

    Args:
        sock: The request's socket (`gunicorn.socket`), None outside gunicorn.
    """
    if sock is None:
        return False
    poller = select.poll()  # not select(): descriptors go past FD_SETSIZE here
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
