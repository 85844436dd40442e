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
  trials, none twice;
- with `--kill-upload`, a quarter of the way through, the web worker parsing a
  16 MB CSV upload is killed with `kill -9`: its staged file must be gone once
  the server has started again;
- with `--disk-full` (root: the data directory is on a tmpfs the soak mounts),
  from 60 % to 80 % of the time the disk is full: predictions and probes of
  liveness must go on, uploads and new searches must get 507 and readiness
  503, and the running search must pause and then resume.

It prints requests, errors (any non-200 prediction or probe, any 5xx
anywhere), p50/p99 latency of predictions and probes, what the slow and idle
sockets and the streams were answered, and the search's trial counts after
recovery.

    python benchmarks/soak.py [--seconds 60] [--predict-clients 8] [--streams 200]
                              [--slow-sockets 50] [--idle-sockets 5000]
                              [--kill-upload] [--disk-full]
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


def big_csv(path: str, megabytes: float) -> str:
    """A CSV of 200 numeric columns and a label, about `megabytes` large."""
    rows = max(20, int(megabytes * 1e6 / (200 * 9)))
    generator = __import__("numpy").random.default_rng(0)
    with open(path, "w") as file:
        file.write(",".join(f"f{i}" for i in range(200)) + ",label\n")
        for start in range(0, rows, 1000):
            block = generator.normal(size=(min(1000, rows - start), 200))
            file.writelines(",".join(f"{value:.5f}" for value in row) + f",{i % 3}\n"
                            for i, row in enumerate(block))
    return path


def upload(port: int, path: str) -> int | str:
    """Posts `path` to /v1/datasets as a multipart upload; the status, or the error's name."""
    boundary = "soak-boundary"
    with open(path, "rb") as file:
        content = file.read()
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="target"\r\n\r\nlabel\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"'
            f"\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    headers = {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", "/v1/datasets", body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__
    finally:
        connection.close()


def holder_of(folder: str, prefix: str) -> int | None:
    """The process with a file open under `folder/prefix*` (the worker parsing an upload)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith(os.path.join(folder, prefix)):
                    return int(pid)
        except OSError:
            continue
    return None


def staged(data_dir: str) -> list[str]:
    datasets = os.path.join(data_dir, "datasets")
    return [name for name in os.listdir(datasets) if name.startswith(".tmp-")] \
        if os.path.isdir(datasets) else []


def kill_during_upload(port: int, data_dir: str, csv_path: str) -> str:
    """Uploads `csv_path` and kills the worker once it has staged it; says what happened."""
    answer: list = []
    sender = threading.Thread(target=lambda: answer.append(upload(port, csv_path)))
    sender.start()
    deadline = time.monotonic() + 60
    worker = None
    while worker is None and time.monotonic() < deadline and sender.is_alive():
        worker = holder_of(os.path.join(data_dir, "datasets"), ".tmp-")
        time.sleep(0.01)
    if worker is not None:
        os.kill(worker, signal.SIGKILL)
    sender.join(120)
    return (f"worker {worker} killed mid-upload, the client got {answer[0] if answer else None}, "
            f"staged folders left: {len(staged(data_dir))}")


def fill(folder: str) -> str:
    """Fills the disk that holds `folder`; returns the filler file."""
    filler = os.path.join(folder, "filler")
    with open(filler, "wb") as file:
        try:
            while True:
                file.write(b"\0" * (1 << 20))
                file.flush()
        except OSError:
            pass
    return filler


def writes_loop(port: int, tally: Tally, stop: threading.Event) -> None:
    """Tries to queue a search every second (while the disk is full: 507 expected)."""
    body = json.dumps({"dataset": "iris", "max_trials": 1, "epochs": 1})
    while not stop.wait(1.0):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", "/v1/searches", body, AUTH)
            response = connection.getresponse()
            response.read()
            tally.add(response.status)
        except (OSError, http.client.HTTPException) as error:
            tally.add(type(error).__name__)
        finally:
            connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--predict-clients", type=int, default=8)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--slow-sockets", type=int, default=50)
    parser.add_argument("--idle-sockets", type=int, default=0,
                        help="connections that never end their headers (default 0)")
    parser.add_argument("--max-trials", type=int, default=6)
    parser.add_argument("--kill-upload", action="store_true",
                        help="kill the web worker parsing a 16 MB upload, then restart the server")
    parser.add_argument("--disk-full", action="store_true",
                        help="put the data directory on a 512 MB tmpfs and fill it from 60 %% to "
                        "80 %% of the time (needs root)")
    args = parser.parse_args(argv)
    if args.disk_full and os.geteuid() != 0:
        parser.error("--disk-full mounts a tmpfs, which needs root")
    # The idle sockets and the streams are this process's open files too.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    work = tempfile.mkdtemp(prefix="evokt-soak-")
    disk = os.path.join(work, "disk")
    os.makedirs(disk)
    if args.disk_full:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", disk], check=True)
    data_dir = os.path.join(disk, "data")
    csv_path = big_csv(os.path.join(work, "big.csv"), 16) if args.kill_upload else None
    print("preparing a model (a real one-trial search on iris) ...", flush=True)
    prepare_model(data_dir)
    port = free_port()
    env = {**os.environ, "EVOKT_API_TOKEN": TOKEN, "EVOKT_MIN_FREE_BYTES": str(8 * 2**20)}

    def start_server() -> subprocess.Popen:
        with open(os.path.join(work, "serve.log"), "ab") as log:
            return subprocess.Popen(
                [os.path.join(os.path.dirname(sys.executable), "evokt"), "serve", "--port",
                 str(port), "--data-dir", data_dir], env=env, stdout=log, stderr=log, cwd=ROOT)

    server = start_server()
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
        predictions, new_predictions, probes, ready = Tally(), Tally(), Tally(), Tally()
        full_predictions, full_writes = Tally(), Tally()
        body = json.dumps({"instances": [ROW]})
        threads = [threading.Thread(target=request_loop, args=(
            port, "POST", "/v1/models/bench:predict", body, predictions, stop))
            for _ in range(args.predict_clients)]
        threads.append(threading.Thread(target=request_loop, args=(
            port, "POST", "/v1/models/bench:predict", body, new_predictions, stop, 0.2),
            kwargs={"new_connections": True}))
        for path, tally in (("/v2/health/live", probes), ("/v2/health/ready", ready)):
            threads.append(threading.Thread(target=request_loop, args=(
                port, "GET", path, None, tally, stop, 0.2, False),
                kwargs={"new_connections": True}))
        nuisances = Nuisances(port, search_id, args.streams, args.slow_sockets)
        threads.append(threading.Thread(target=nuisances.run, args=(stop,)))
        idle = IdleSockets(port, args.idle_sockets)
        if args.idle_sockets:
            threads.append(threading.Thread(target=idle.run, args=(stop,)))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        killed = switched = upload_killed = False
        filler = full_stop = None
        upload_report = disk_report = ""
        search_said: set[str] = set()
        while time.monotonic() - started < args.seconds:
            elapsed = time.monotonic() - started
            if args.kill_upload and not upload_killed and elapsed > args.seconds / 4:
                upload_killed = True
                upload_report = kill_during_upload(port, data_dir, csv_path)
                print(f"{elapsed:5.1f} s: {upload_report}", flush=True)
            if args.disk_full and filler is None and elapsed > 0.6 * args.seconds:
                filler = fill(disk)
                full_stop = threading.Event()
                drill = [threading.Thread(target=writes_loop, args=(port, full_writes, full_stop)),
                         threading.Thread(target=request_loop, args=(
                             port, "POST", "/v1/models/bench:predict", body, full_predictions,
                             full_stop, 0.05))]
                for thread in drill:
                    thread.start()
                print(f"{elapsed:5.1f} s: the disk is full ({shutil.disk_usage(disk).free} "
                      "bytes free)", flush=True)
            if full_stop is not None and not full_stop.is_set():
                search_said.add((store.search(search_id)["error"] or "running")[:40])
            if full_stop is not None and not full_stop.is_set() and elapsed > 0.8 * args.seconds:
                full_stop.set()
                for thread in drill:
                    thread.join(60)
                os.remove(filler)
                disk_report = (f"predictions {full_predictions.summary()}; writes (queue a "
                               f"search) {dict(full_writes.statuses)}; the search said "
                               f"{sorted(search_said)}")
                print(f"{elapsed:5.1f} s: space again", flush=True)
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
        print(f"liveness probes (new connections): {probes.summary()}")
        print(f"readiness probes (new connections): {ready.summary()}")
        if args.disk_full:
            print(f"while the disk was full: {disk_report}")
        print(f"streams:     most open at once {nuisances.most_streams}; "
              f"first answers {dict(nuisances.answers)}")
        if args.idle_sockets:
            print(f"idle sockets: {idle.open} open at the end; closed by the server after "
                  f"{dict(idle.answers)}")
        # Predictions and liveness never answer 5xx; readiness (503) and writes (507)
        # may say the disk is full, but never 500.
        never_5xx = (predictions.statuses + new_predictions.statuses + probes.statuses
                     + full_predictions.statuses)
        server_errors = sum(count for status, count in never_5xx.items()
                            if isinstance(status, int) and status >= 500) + \
            (ready.statuses + full_writes.statuses)[500]
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
        if args.kill_upload:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
            left = len(staged(data_dir))
            server = start_server()
            wait_until_ready(f"http://127.0.0.1:{port}/v2/health/live", 120, server)
            print(f"killed upload: staged folders {left} before the restart, "
                  f"{len(staged(data_dir))} after it")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        store.close()
        if args.disk_full:
            subprocess.run(["umount", "-l", disk], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
