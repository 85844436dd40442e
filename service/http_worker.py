"""evokt's gunicorn worker: `gthread`, hardened against slow clients, with JSON errors.

`evokt serve` runs gunicorn with `--worker-class evokt.service.http_worker.EvoktWorker`.
It is gunicorn's threaded worker with these changes:

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
- Idle connections cannot lock the others out. gunicorn stops accepting once
  a worker holds `worker_connections` (1,000), and the connections past it
  wait in the listen backlog, a probe among them: 2,400 sockets that never
  finished their headers stalled probes for 10 s. A worker holds
  `EVOKT_MAX_CONNECTIONS` (10,000; its file-descriptor limit is raised to
  fit), accepts in batches, and when it is full it closes the oldest
  connection still sending its headers (else the oldest idle kept-alive
  one) for each new one: under pressure the header deadline tightens by
  itself, and a request whose headers arrive at once, a probe's, is served.

It depends on the internals of gunicorn's `gthread` worker (`TConn`,
`enqueue_req`, `_keepalive_after`), hence the pinned gunicorn release in
`pyproject.toml`.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import selectors
import socket
import time
from functools import partial

from gunicorn import util
from gunicorn.http.errors import ParseException
from gunicorn.workers import gthread

from evokt.service.config import setting

HEADER_SECONDS = setting("HEADER_SECONDS", os.environ)
MAX_CONNECTIONS = setting("MAX_CONNECTIONS", os.environ)
DRAIN_SECONDS = 0.02
# Connections accepted per wake-up of the event loop: a burst of connects is
# taken out of the listen backlog at once, not one per turn of the loop.
ACCEPT_BATCH = 256
# File descriptors a worker keeps for other than its connections (TensorFlow,
# model files, the lingering closes), and per request thread (its job-store
# connection with its WAL files, an event stream's slot).
RESERVED_FDS = 1024
FDS_PER_THREAD = 5
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


def raise_fd_limit(wanted: int) -> int:
    """Raises the soft limit on open files towards `wanted`, up to the hard limit.

    Args:
        wanted: The open files the worker may need.

    Returns:
        The soft limit now (`wanted` if there is none).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    if soft >= wanted:
        return soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


class EvoktWorker(gthread.ThreadWorker):
    """gunicorn's threaded worker that gives a thread only to complete requests."""

    def init_process(self) -> None:
        # gunicorn's own error pages go through `util.write_error`.
        util.write_error = write_json_error
        # Connections still sending their headers, oldest (earliest deadline) first;
        # a dict for its order and its O(1) removal.
        self.reading_conns: dict[HeaderReadingConnection, None] = {}
        # Half-closed sockets being drained: (deadline, socket, bytes drained).
        self.lingering: dict[socket.socket, tuple[float, int]] = {}
        reserved = RESERVED_FDS + FDS_PER_THREAD * self.cfg.threads
        limit = raise_fd_limit(MAX_CONNECTIONS + reserved)
        self.worker_connections = max(self.cfg.threads + 1, min(MAX_CONNECTIONS,
                                                                  limit - reserved))
        if self.worker_connections < MAX_CONNECTIONS:
            self.log.warning("the open-files limit (%d) leaves room for %d connections, not "
                             "EVOKT_MAX_CONNECTIONS=%d", limit, self.worker_connections,
                             MAX_CONNECTIONS)
        self.max_keepalived = self.worker_connections - self.cfg.threads
        super().init_process()

    def accept(self, listener: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            # Sockets closing gracefully hold descriptors too, for up to LINGER_SECONDS.
            if self.nr_conns + len(self.lingering) + 1 >= self.worker_connections:
                # gunicorn stops accepting at `worker_connections`: room for this
                # connection and the next.
                self._close_oldest_idle()
                if self.nr_conns >= self.worker_connections:
                    return  # every connection is on a thread: the rest wait in the backlog
            try:
                client_sock, client_addr = listener.accept()
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE):
                    # Out of descriptors all the same: free one, and let the
                    # connection wait in the backlog meanwhile.
                    if self.lingering:
                        self._close_lingering(next(iter(self.lingering)))
                    else:
                        self._close_oldest_idle()
                    return
                if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                    raise
                return
            self.nr_conns += 1
            conn = HeaderReadingConnection(self, self.cfg, client_sock, client_addr,
                                           listener.getsockname())
            self.enqueue_req(conn)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        try:
            events = self.poller.select(timeout)
        except InterruptedError:
            return
        registered = self.poller.get_map()
        for key, _ in events:
            # An accept earlier in this batch may have closed this connection to
            # make room (and its descriptor may already be another's).
            if registered.get(key.fd) is key:
                key.data(key.fileobj)

    def _close_oldest_idle(self) -> bool:
        """Closes the connection that has waited longest without a request to serve.

        The oldest still sending its headers goes first (answered 408; if its
        headers have all arrived by now, it goes to a thread and the next oldest
        is closed instead), then the oldest kept alive between requests (which
        HTTP lets a server close).

        Returns:
            Whether there was one to close.
        """
        while self.reading_conns:
            conn = next(iter(self.reading_conns))
            open_conns = self.nr_conns
            # A last look: its headers may have come in since the loop's last turn
            # (an accept batch runs before the reads of the same turn).
            self._read_headers(conn, conn.sock)
            if conn in self.reading_conns:
                self._drop_reading(conn, "the request's headers did not arrive in time; "
                                         "the server is at its connection limit")
                return True
            if self.nr_conns < open_conns:
                return True  # its client had closed it
            # Whole now, and on its way to a thread: the next oldest goes instead.
        if self.keepalived_conns:
            conn = self.keepalived_conns.popleft()
            self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()
            return True
        return False

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
        self.reading_conns[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self._read_headers, conn))
        # Most requests arrive whole with the connection: read them now rather
        # than on the loop's next turn.
        self._read_headers(conn, conn.sock)

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
        del self.reading_conns[conn]

    def _drop_reading(self, conn: HeaderReadingConnection, timeout_message: str = "") -> None:
        """Closes a connection still sending its headers; answers 408 with `timeout_message`."""
        self._stop_reading(conn)
        if timeout_message:
            try:
                write_json_error(conn.sock, 408, "Request Timeout", timeout_message)
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
        while self.reading_conns:
            conn = next(iter(self.reading_conns))
            if conn.header_deadline > now:
                break  # the others came later, and have later deadlines
            self._drop_reading(conn, f"the request's headers did not arrive within "
                                     f"{HEADER_SECONDS:g} seconds")
        while self.lingering:
            sock = next(iter(self.lingering))
            if self.lingering[sock][0] > now:
                break  # in the order of their deadlines, as they were added
            self._close_lingering(sock)

    def _keepalive_after(self, conn: HeaderReadingConnection, keepalive: bool) -> bool:
        if not keepalive:
            return False
        try:
            return bool(conn.parser.finish_body(deadline=time.monotonic() + DRAIN_SECONDS))
        except ParseException:
            return False  # the rest of a malformed chunked body: nothing to reuse
