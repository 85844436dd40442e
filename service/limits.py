"""Limits on what one request may hold: its body's time and form, and event-stream slots.

gunicorn reads a body only when the application asks for it, from a blocking
socket, so a client that sends its body a byte at a time would hold a thread
for as long as it likes. `BodyDeadline` gives every request's body a
deadline: a read still waiting for it then is cut off, and the request is
answered 408. A chunked body that breaks its coding
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
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import RequestTimeout


class _DeadlineStream:
    """`wsgi.input` whose reads fail with 408 once the body's deadline has passed.

    Args:
        stream: gunicorn's body stream.
        sock: The client's socket.
        deadline: `time.monotonic()` by which the body must be in.
        seconds: The time the client had, for the message.
        watch: The `BodyDeadline` that cuts off a read still waiting at the deadline.
    """

    def __init__(self, stream: Any, sock: socket.socket, deadline: float, seconds: float,
                 watch: BodyDeadline):
        self.stream = stream
        self.sock = sock
        self.deadline = deadline
        self.seconds = seconds
        self.watch = watch
        # Guarded by the watch's lock: a read is waiting on the socket; the watch
        # shut the socket's reading side at the deadline.
        self.reading = False
        self.cut_off = False

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        with self.watch.lock:
            if self.cut_off or time.monotonic() >= self.deadline:
                raise self._timeout()
            self.reading = True
        try:
            data = method(*args)
        except (ParseException, OSError) as error:
            # A chunked body cut off mid-line, or gunicorn's NoMoreData: late, not malformed.
            if self.cut_off:
                raise self._timeout() from None
            if isinstance(error, ParseException):
                raise BadRequest(f"the request body's chunked coding is malformed: {error}") \
                    from None
            raise
        finally:
            with self.watch.lock:
                self.reading = False
        if self.cut_off:
            raise self._timeout()
        return data

    def _timeout(self) -> RequestTimeout:
        # What is left of the body is unknown: gunicorn must not read a next
        # request from this connection.
        self.stream.failed = True
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

    A socket timeout would bound each `recv`, not the body: a client sending
    a byte within every timeout would hold the read as long as it likes. So
    one thread per process watches the requests in the order of their
    deadlines, and shuts the reading side of the socket of a request still
    reading at its deadline; the waiting `recv` returns at once, and the read
    fails with 408 (the connection is then closed).

    Only under gunicorn (which puts the client socket in the environment as
    `gunicorn.socket`); elsewhere the application is called as it is.

    Args:
        app: The WSGI application.
        seconds: Time a client has to send a body, from the request's start.
    """

    def __init__(self, app: Callable, seconds: float):
        self.app = app
        self.seconds = seconds
        self.lock = threading.Condition()
        # Requests being answered, by deadline (all get the same `seconds`, so
        # the order of their arrival is the order of their deadlines).
        self._requests: dict[_DeadlineStream, None] = {}
        self._watcher: threading.Thread | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is None:
            return self.app(environ, start_response)
        with self.lock:
            stream = _DeadlineStream(environ["wsgi.input"], sock,
                                     time.monotonic() + self.seconds, self.seconds, self)
            self._requests[stream] = None
            if self._watcher is None:
                # In the worker process that serves (a thread does not survive a fork).
                self._watcher = threading.Thread(target=self._cut_off_late_reads,
                                                 name="evokt-body-deadlines", daemon=True)
                self._watcher.start()
            elif len(self._requests) == 1:
                self.lock.notify()
        environ["wsgi.input"] = stream
        try:
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self._requests.pop(stream, None)

    def _cut_off_late_reads(self) -> None:
        with self.lock:
            while True:
                if not self._requests:
                    self.lock.wait()
                    continue
                stream = next(iter(self._requests))
                remaining = stream.deadline - time.monotonic()
                if remaining > 0:
                    self.lock.wait(remaining)
                    continue
                del self._requests[stream]
                if stream.reading:
                    stream.cut_off = True
                    try:
                        stream.sock.shutdown(socket.SHUT_RD)
                    except OSError:
                        pass  # closed meanwhile


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
