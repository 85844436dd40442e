"""Single-row prediction latency of `evokt serve`, next to a naive `model.predict()` endpoint.

Runs a real one-trial search on iris, registers its model, starts the real
service (`evokt serve`, gunicorn gthread) and a naive Flask endpoint that
calls `model.predict()` per request under the same gunicorn settings, then
sends single-row requests from 1, 8 and 32 concurrent keep-alive clients
and prints p50/p99 latency, throughput and errors for both.

    python benchmarks/serve_latency.py [--seconds 5] [--workers 2] [--threads 8]

Everything listens on 127.0.0.1 and every load level is bounded in time and
in requests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from evokt.hypermodels.data import load_builtin  # noqa: E402
from evokt.search.distributed import free_port  # noqa: E402
from evokt.search.layout import MODEL_FILE  # noqa: E402
from evokt.search.pipeline import run_search  # noqa: E402
from evokt.search.spec import SearchSpec  # noqa: E402
from evokt.service.layout import DataLayout  # noqa: E402
from evokt.service.serve import wait_until_ready  # noqa: E402
from evokt.service.store import JobStore  # noqa: E402
from evokt.service.versions import register_model  # noqa: E402

MAX_REQUESTS_PER_LEVEL = 20_000


def prepare_model(data_dir: str) -> str:
    """A real search's best model, registered as `bench` version 1; returns its path."""
    layout = DataLayout(data_dir)
    store = JobStore(data_dir)
    run_search(
        SearchSpec(dataset="iris", hypermodel="mlp", max_trials=1, epochs=2),
        os.path.join(data_dir, "bench-search"),
        layout.export_dir("bench"),
    )
    register_model(store, layout, "bench", "bench", layout.export_dir("bench"))
    return os.path.join(layout.model_dir("bench", 1), MODEL_FILE)


def load_level(port: int, path: str, row: list[float], clients: int, seconds: float):
    """Sends single-row requests from `clients` threads for `seconds`."""
    body = json.dumps({"instances": [row]})
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    budget = [MAX_REQUESTS_PER_LEVEL]

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        failures = 0
        while time.monotonic() < deadline:
            with lock:
                if budget[0] == 0:
                    break
                budget[0] -= 1
            started = time.perf_counter()
            try:
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failures += 1
            except (OSError, http.client.HTTPException):
                failures += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failures

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "rps": len(latencies) / elapsed,
    }


def start(command: list[str], env: dict[str, str], log_path: str) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log_path, "wb"), cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per load level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="evokt-bench-")
    model_path = prepare_model(data_dir)
    row = load_builtin("iris").x_val[0].tolist()
    evokt_port, naive_port = free_port(), free_port()
    env = {**os.environ, "EVOKT_API_TOKEN": "bench", "NAIVE_MODEL_PATH": model_path}
    evokt = start([os.path.join(os.path.dirname(sys.executable), "evokt"), "serve",
                   "--port", str(evokt_port), "--data-dir", data_dir, "--public-predict",
                   "--workers", str(args.workers), "--threads", str(args.threads)],
                  env, os.path.join(data_dir, "evokt.log"))
    naive = start([sys.executable, "-m", "gunicorn", "--worker-class", "gthread",
                   "--workers", str(args.workers), "--threads", str(args.threads),
                   "--bind", f"127.0.0.1:{naive_port}", "--no-control-socket",
                   "--pythonpath", os.path.join(ROOT, "benchmarks"), "naive_predict_app:app"],
                  env, os.path.join(data_dir, "naive.log"))
    endpoints = [("evokt", evokt_port, "/v1/models/bench:predict"),
                 ("naive model.predict()", naive_port, "/predict")]
    try:
        wait_until_ready(f"http://127.0.0.1:{evokt_port}/v2/health/ready", 120, evokt)
        for _, port, path in endpoints:
            load_level(port, path, row, 2 * args.workers, 3.0)  # load the model in every worker
        print(f"{'endpoint':<22} {'clients':>7} {'requests':>8} {'errors':>6} "
              f"{'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        results = {}
        for clients in args.clients:
            for name, port, path in endpoints:
                result = load_level(port, path, row, clients, args.seconds)
                results[(name, clients)] = result
                print(f"{name:<22} {clients:>7} {result['requests']:>8} {result['errors']:>6} "
                      f"{result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} {result['rps']:>8.1f}",
                      flush=True)
        for clients in args.clients:
            ratio = (results[("naive model.predict()", clients)]["p50_ms"]
                     / results[("evokt", clients)]["p50_ms"])
            print(f"p50 speed-up over model.predict() at {clients} clients: {ratio:.1f}x")
    finally:
        for process in (evokt, naive):
            process.send_signal(signal.SIGTERM)
        for process in (evokt, naive):
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
