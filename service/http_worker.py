"""evokt's gunicorn worker: `gthread`, hardened against slow clients, with JSON errors.

`evokt serve` runs gunicorn with `--worker-class evokt.service.http_worker.EvoktWorker`.
It is gunicorn's threaded worker with three changes:

- A request's headers are read on the worker's event loop, without a thread,
  and the connection reaches a thread only once they are complete. A client
  that sends them slowly (one byte every few seconds) holds no thread, and is
  answered 408 and closed after `EVOKT_HEADER_SECONDS` (default 10).
- After a response the application did not read the whole body of (a 401
  or 413 answered before the body was read), the thread takes only what
  of the body has already arrived (`DRAIN_SECONDS`), not gunicorn's five
  seconds of waiting for the rest; if more is to come, the connection is
  closed (gracefully, on the event loop, see below): a client trickling a
  body cannot hold a thread that way either. (Bodies the application reads have their own
  deadline, `evokt.service.limits.BodyDeadline`.)
- A connection is closed gracefully (half-closed, then what the client still
  sends is read and dropped, so the client gets the whole response before
  the close) on the event loop, without waiting: gunicorn waits up to two
  seconds for it in the loop itself, so a dozen slow clients froze every
  other connection of the worker.
- Errors gunicorn answers itself (a malformed request line, a URI or header
  over its limits, an unsupported transfer coding: 400, 414, 431, 501) are
  JSON `{"error": "..."}` like every other answer of the API, instead of
  gunicorn's HTML page.

It depends on the internals of gunicorn's `gthread` worker (`TConn`,
`enqueue_req`, `_keepalive_after`), hence the pinned gunicorn release in
`pyproject.toml`.
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import socket
import time
from collections import deque
from functools import partial

from gunicorn import util
from gunicorn.workers import gthread

from evokt.service.config import setting

HEADER_SECONDS = setting("HEADER_SECONDS", os.environ)
DRAIN_SECONDS = 0.02
# The most header bytes read before the request goes to a thread anyway
# (gunicorn's own limits then answer 431 for a header block too large).
MAX_HEADER_BYTES = 64 * 1024
# A graceful close reads what the client still sends for this long, and this
# much of it, at most (as gunicorn's own `util.close_graceful`).
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024
_END_OF_HEADERS = b"\r\n\r\n"


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, answering `{"error": mesg}` in JSON."""
    body = json.dumps({"error": mesg or reason}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


class HeaderReadingConnection(gthread.TConn):
    """A connection whose request headers the event loop may have read already.

    Args:
        worker: The worker whose event loop closes it gracefully.
        *args: `TConn`'s arguments.
    """

    def __init__(self, worker: EvoktWorker, *args):
        super().__init__(*args)
        self.worker = worker
        self.early_bytes = b""
        self.header_deadline: float | None = None

    def close(self, graceful: bool = False) -> None:
        if graceful:
            self.worker.linger_close(self.sock)
        else:
            super().close()

    def init(self) -> None:
        super().init()
        if self.early_bytes:
            self.parser.unreader.unread(self.early_bytes)
            self.early_bytes = b""
        self.header_deadline = None


class EvoktWorker(gthread.ThreadWorker):
    """gunicorn's threaded worker that gives a thread only to complete requests."""

    def init_process(self) -> None:
        # gunicorn's own error pages go through `util.write_error`.
        util.write_error = write_json_error
        self.reading_conns: deque[HeaderReadingConnection] = deque()
        # Half-closed sockets being drained: (deadline, socket, bytes drained).
        self.lingering: dict[socket.socket, tuple[float, int]] = {}
        super().init_process()

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = HeaderReadingConnection(self, self.cfg, client_sock, client_addr,
                                       listener.getsockname())
        self.enqueue_req(conn)

    def enqueue_req(self, conn: HeaderReadingConnection) -> None:
        """Hands `conn` to a thread once its request headers are all here."""
        if conn.parser is not None:
            # Bytes a pipelining client sent behind its last request.
            conn.early_bytes = conn.parser.unreader.take_buffered() + conn.early_bytes
        if _END_OF_HEADERS in conn.early_bytes:
            conn.data_ready = True
            super().enqueue_req(conn)
            return
        if conn.header_deadline is None:
            conn.header_deadline = time.monotonic() + HEADER_SECONDS
        conn.sock.setblocking(False)
        self.reading_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self._read_headers, conn))

    def _read_headers(self, conn: HeaderReadingConnection, _sock: socket.socket) -> None:
        try:
            data = conn.sock.recv(MAX_HEADER_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_reading(conn)
            return
        conn.early_bytes += data
        if _END_OF_HEADERS in conn.early_bytes or len(conn.early_bytes) >= MAX_HEADER_BYTES:
            self._stop_reading(conn)
            conn.data_ready = True
            gthread.ThreadWorker.enqueue_req(self, conn)

    def _stop_reading(self, conn: HeaderReadingConnection) -> None:
        self.poller.unregister(conn.sock)
        self.reading_conns.remove(conn)

    def _drop_reading(self, conn: HeaderReadingConnection, answer_timeout: bool = False) -> None:
        self._stop_reading(conn)
        if answer_timeout:
            try:
                write_json_error(conn.sock, 408, "Request Timeout",
                                 f"the request's headers did not arrive within "
                                 f"{HEADER_SECONDS:g} seconds")
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    def linger_close(self, sock: socket.socket) -> None:
        """Closes `sock` gracefully, from the event loop, never waiting on it."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, self._drain)
        except (OSError, ValueError, KeyError):
            util.close(sock)
            return
        self.lingering[sock] = (time.monotonic() + LINGER_SECONDS, 0)

    def _drain(self, sock: socket.socket) -> None:
        deadline, drained = self.lingering[sock]
        try:
            data = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        drained += len(data)
        if data and drained < LINGER_BYTES:
            self.lingering[sock] = (deadline, drained)
            return
        self._close_lingering(sock)

    def _close_lingering(self, sock: socket.socket) -> None:
        del self.lingering[sock]
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError):
            pass
        util.close(sock)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.reading_conns if c.header_deadline <= now]:
            self._drop_reading(conn, answer_timeout=True)
        for sock in [s for s, (deadline, _) in self.lingering.items() if deadline <= now]:
            self._close_lingering(sock)

    def _keepalive_after(self, conn: HeaderReadingConnection, keepalive: bool) -> bool:
        if not keepalive:
            return False
        return bool(conn.parser.finish_body(deadline=time.monotonic() + DRAIN_SECONDS))
