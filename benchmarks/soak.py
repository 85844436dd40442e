"""A soak of the real `evokt serve`: load, hostile clients and faults at once, for a fixed time.

For `--seconds`, all on 127.0.0.1 and bounded in count and time:

- `--predict-clients` keep-alive clients send single-row predictions;
- `--streams` Server-Sent Events streams stay open on a running search (past
  the server's capacity they get 503 and retry after `Retry-After`);
- `--slow-sockets` clients send headers, or an unauthenticated body, one byte
  every 2 seconds (reconnecting when the server cuts them off);
- `--idle-sockets` connections send `GET / HTTP/1.1` and a header, and never
  end the headers (reconnecting as soon as the server closes them);
- a probe client asks `/v2/health/live` and `/v2/health/ready` 5 times a second,
  each on a new connection (as Kubernetes' kubelet does), and another client
  sends a prediction on a new connection 5 times a second;
- halfway through, a new model version is registered, and predictions of the
  latest version must switch to it without an error;
- a third of the way through, the search's process is killed with `kill -9`:
  the runner must start it again, and it must end with exactly `max_trials`
  trials, none twice.

It prints requests, errors (any non-200 prediction or probe, any 5xx
anywhere), p50/p99 latency of predictions and probes, what the slow and idle
sockets and the streams were answered, and the search's trial counts after
recovery.

    python benchmarks/soak.py [--seconds 60] [--predict-clients 8] [--streams 200]
                              [--slow-sockets 50] [--idle-sockets 5000]
"""

from __future__ import annotations

import argparse
import errno
import http.client
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from serve_latency import prepare_model  # noqa: E402

from evokt.search.distributed import free_port  # noqa: E402
from evokt.service.layout import DataLayout  # noqa: E402
from evokt.service.serve import wait_until_ready  # noqa: E402
from evokt.service.store import JobStore  # noqa: E402

TOKEN = "soak-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
ROW = [5.1, 3.5, 1.4, 0.2]
# The most requests one client sends, whatever the duration.
MAX_REQUESTS_PER_CLIENT = 200_000


class Tally:
    """Latencies and statuses of one kind of request, from several threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()

    def add(self, status: int | str, seconds: float | None = None) -> None:
        with self.lock:
            self.statuses[status] += 1
            if seconds is not None:
                self.latencies.append(seconds)

    def summary(self) -> str:
        ordered = sorted(self.latencies)
        if not ordered:
            return f"statuses {dict(self.statuses)}"
        p50 = 1000 * statistics.median(ordered)
        p99 = 1000 * ordered[int(0.99 * (len(ordered) - 1))]
        return (f"{len(ordered):,} answered, p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                f"max {1000 * ordered[-1]:.1f} ms, statuses {dict(self.statuses)}")


def request_loop(port: int, method: str, path: str, body: str | None, tally: Tally,
                 stop: threading.Event, pause: float = 0.0, auth: bool = True,
                 new_connections: bool = False) -> None:
    """Sends one request after the other until `stop`, on one kept-alive connection
    (or on a new connection each, with `new_connections`: the connect is timed too)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if stop.is_set():
            break
        started = time.perf_counter()
        try:
            connection.request(method, path, body, AUTH if auth else {})
            response = connection.getresponse()
            response.read()
            tally.add(response.status, time.perf_counter() - started)
        except (OSError, http.client.HTTPException) as error:
            tally.add(type(error).__name__)
            connection.close()  # the next request opens a new one
        if new_connections:
            connection.close()
        if pause:
            stop.wait(pause)
    connection.close()


class Nuisances:
    """Event streams and slow sockets on one selector, so hundreds cost one thread."""

    def __init__(self, port: int, search_id: str, streams: int, slow_sockets: int):
        self.port = port
        self.stream_request = (f"GET /v1/searches/{search_id}/events HTTP/1.1\r\nHost: soak\r\n"
                               f"Authorization: Bearer {TOKEN}\r\n\r\n").encode()
        self.selector = selectors.DefaultSelector()
        self.answers: Counter = Counter()
        self.wanted = {"stream": streams, "slow-headers": slow_sockets // 2,
                       "slow-body": slow_sockets - slow_sockets // 2}
        self.open: Counter = Counter()
        self.retry_at = 0.0
        self.most_streams = 0

    def _connect(self, kind: str) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        if kind == "stream":
            sock.sendall(self.stream_request)
        elif kind == "slow-headers":
            sock.sendall(b"GET /v1/searches HTTP/1.1\r\nHost: soak\r\n")
        else:
            sock.sendall(b"POST /v1/searches HTTP/1.1\r\nHost: soak\r\nContent-Length: 100\r\n"
                         b"Content-Type: application/json\r\n\r\n{")
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, [kind, None])
        self.open[kind] += 1

    def _close(self, sock: socket.socket, kind: str) -> None:
        self.selector.unregister(sock)
        sock.close()
        self.open[kind] -= 1

    def run(self, stop: threading.Event) -> None:
        last_trickle = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= self.retry_at:
                while self.open["stream"] < self.wanted["stream"]:
                    self._connect("stream")
            if now - last_trickle > 2.0:  # one byte every 2 s per slow socket
                last_trickle = now
                for kind in ("slow-headers", "slow-body"):  # reconnect those cut off
                    while self.open[kind] < self.wanted[kind]:
                        self._connect(kind)
                for key in list(self.selector.get_map().values()):
                    if key.data[0] != "stream":
                        try:
                            key.fileobj.send(b"x")
                        except OSError:
                            pass
            for key, _ in self.selector.select(0.2):
                self._read(key)
            self.most_streams = max(self.most_streams, self.open["stream"])
        for key in list(self.selector.get_map().values()):
            self._close(key.fileobj, key.data[0])

    def _read(self, key: selectors.SelectorKey) -> None:
        """Records a socket's answer; keeps open streams, closes everything else."""
        kind, status = key.data
        try:
            data = key.fileobj.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data and status is None:
            status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "?"
            key.data[1] = status
            self.answers[f"{kind} {status}"] += 1
            if kind == "stream" and status == "503":
                self.retry_at = time.monotonic() + 5
        if not data or not (kind == "stream" and status == "200"):
            self._close(key.fileobj, kind)


class IdleSockets:
    """`count` connections that start a request and never end its headers.

    Each sends `GET / HTTP/1.1` and one header, then nothing; a connection the
    server closes is opened again at once. All are on one selector, connected
    without blocking (a full listen backlog must not stall the others).

    Args:
        port: The server's port on 127.0.0.1.
        count: Connections to keep open.
    """

    REQUEST_START = b"GET / HTTP/1.1\r\nHost: soak\r\n"

    def __init__(self, port: int, count: int):
        self.port = port
        self.count = count
        self.selector = selectors.DefaultSelector()
        self.open = 0
        # What the server answered before closing one: "408 <its error>", or "closed".
        self.answers: Counter = Counter()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            while self.open < self.count and self._connect():
                pass
            for key, _ in self.selector.select(0.1):
                if key.data == "connecting":
                    self._send_start(key.fileobj)
                else:
                    self._read(key.fileobj)
        for key in list(self.selector.get_map().values()):
            self._close(key.fileobj)

    def _connect(self) -> bool:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        error = sock.connect_ex(("127.0.0.1", self.port))
        if error not in (0, errno.EINPROGRESS):
            sock.close()
            return False  # out of ports or descriptors for now: the next turn tries again
        self.selector.register(sock, selectors.EVENT_WRITE, "connecting")
        self.open += 1
        return True

    def _send_start(self, sock: socket.socket) -> None:
        try:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                raise ConnectionRefusedError
            sock.send(self.REQUEST_START)
        except OSError:
            self._close(sock)
            return
        self.selector.modify(sock, selectors.EVENT_READ, "idle")

    def _read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data.startswith(b"HTTP/"):
            head, _, body = data.partition(b"\r\n\r\n")
            try:
                error = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                error = "?"
            self.answers[f"{head.split()[1].decode()} {error}"] += 1
        else:
            self.answers["closed"] += 1
        self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        self.selector.unregister(sock)
        sock.close()
        self.open -= 1


def switch_version(data_dir: str) -> None:
    """Registers version 2 of `bench`: version 1's files under a new number."""
    layout = DataLayout(data_dir)
    store = JobStore(data_dir)
    metadata = store.model_version("bench", 1)["metadata"]
    shutil.copytree(layout.model_dir("bench", 1), layout.model_dir("bench", 2))
    with store.transaction() as connection:
        connection.execute(
            "INSERT INTO model_versions (name, version, search_id, metadata, created)"
            " VALUES ('bench', 2, NULL, ?, ?)", (json.dumps(metadata), time.time()))
    store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--predict-clients", type=int, default=8)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--slow-sockets", type=int, default=50)
    parser.add_argument("--idle-sockets", type=int, default=0,
                        help="connections that never end their headers (default 0)")
    parser.add_argument("--max-trials", type=int, default=6)
    args = parser.parse_args(argv)
    # The idle sockets and the streams are this process's open files too.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    work = tempfile.mkdtemp(prefix="evokt-soak-")
    data_dir = os.path.join(work, "data")
    print("preparing a model (a real one-trial search on iris) ...", flush=True)
    prepare_model(data_dir)
    port = free_port()
    env = {**os.environ, "EVOKT_API_TOKEN": TOKEN}
    with open(os.path.join(work, "serve.log"), "wb") as log:
        server = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "evokt"), "serve", "--port",
             str(port), "--data-dir", data_dir], env=env, stdout=log, stderr=log, cwd=ROOT)
    store = JobStore(data_dir)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/v2/health/ready", 120, server)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/v1/models/bench:predict", json.dumps({"instances": [ROW]}),
                           AUTH)
        connection.getresponse().read()  # loads TensorFlow and the model
        connection.request("POST", "/v1/searches", json.dumps(
            {"dataset": "iris", "hypermodel": "mlp", "max_trials": args.max_trials,
             "epochs": 20, "model_name": "soaked"}), AUTH)
        search_id = json.loads(connection.getresponse().read())["id"]
        connection.close()

        stop = threading.Event()
        predictions, new_predictions, probes = Tally(), Tally(), Tally()
        body = json.dumps({"instances": [ROW]})
        threads = [threading.Thread(target=request_loop, args=(
            port, "POST", "/v1/models/bench:predict", body, predictions, stop))
            for _ in range(args.predict_clients)]
        threads.append(threading.Thread(target=request_loop, args=(
            port, "POST", "/v1/models/bench:predict", body, new_predictions, stop, 0.2),
            kwargs={"new_connections": True}))
        for path in ("/v2/health/live", "/v2/health/ready"):
            threads.append(threading.Thread(target=request_loop, args=(
                port, "GET", path, None, probes, stop, 0.2, False),
                kwargs={"new_connections": True}))
        nuisances = Nuisances(port, search_id, args.streams, args.slow_sockets)
        threads.append(threading.Thread(target=nuisances.run, args=(stop,)))
        idle = IdleSockets(port, args.idle_sockets)
        if args.idle_sockets:
            threads.append(threading.Thread(target=idle.run, args=(stop,)))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        killed = switched = False
        while time.monotonic() - started < args.seconds:
            elapsed = time.monotonic() - started
            record = store.search(search_id)
            if not killed and elapsed > args.seconds / 3 and record["pid"] \
                    and record["state"] == "RUNNING":
                os.kill(record["pid"], signal.SIGKILL)
                killed = True
                print(f"{elapsed:5.1f} s: killed the search process (pid {record['pid']}) "
                      f"after {record['trials_done']} trials", flush=True)
            if not switched and elapsed > args.seconds / 2:
                switch_version(data_dir)
                switched = True
                print(f"{elapsed:5.1f} s: registered version 2 of the served model", flush=True)
            time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join(60)
        print(f"\n== soak of {args.seconds:.0f} s: {args.predict_clients} predict clients, "
              f"{args.streams} streams wanted, {args.slow_sockets} slow sockets, "
              f"{args.idle_sockets} idle sockets")
        print(f"predictions: {predictions.summary()}")
        print(f"predictions on new connections: {new_predictions.summary()}")
        print(f"probes (new connections): {probes.summary()}")
        print(f"streams:     most open at once {nuisances.most_streams}; "
              f"first answers {dict(nuisances.answers)}")
        if args.idle_sockets:
            print(f"idle sockets: {idle.open} open at the end; closed by the server after "
                  f"{dict(idle.answers)}")
        server_errors = sum(count for status, count in
                            (predictions.statuses + new_predictions.statuses
                             + probes.statuses).items()
                            if isinstance(status, int) and status >= 500)
        print(f"5xx answers: {server_errors}")

        print("waiting for the killed search to finish ...", flush=True)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and store.search(search_id)["state"] == "RUNNING":
            time.sleep(1)
        record = store.search(search_id)
        trials = store.trials(search_id)
        distinct = {json.dumps(trial["hyperparameters"], sort_keys=True) for trial in trials}
        print(f"search:      {record['state']}, {record['trials_done']} of {args.max_trials} "
              f"trials, {len(trials)} recorded, {len(distinct)} distinct, restarts "
              f"{record['restarts']}, model versions {len(store.model_versions('soaked'))}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        store.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
