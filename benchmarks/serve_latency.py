"""Prediction latency of `evokt serve`: next to a naive `model.predict()` endpoint, and
its Open Inference Protocol route (`/v2/models/{name}/infer`) next to `:predict`.

Runs a real one-trial search on iris, registers its model, starts the real
service (`evokt serve`, gunicorn gthread) and a naive Flask endpoint that
calls `model.predict()` per request under the same gunicorn settings, then:

- sends single-row requests from 1, 8 and 32 concurrent keep-alive clients
  to `:predict` and to the naive endpoint, and prints p50/p99 latency,
  throughput and errors for both;
- sends the same rows (1 and 100 per request) from 1 and 32 clients through
  `/v2/models/bench/infer` and through `:predict` of the same service and
  model, the same number of requests each, in back-to-back blocks whose order
  alternates round by round (so drift of the machine's load favours neither),
  and prints p50/p95 latency, throughput, errors and infer p50 / predict p50
  for each case, against the goal "/infer p50 within 1.2x of :predict with 0
  errors at 32 clients".

    python benchmarks/serve_latency.py [--seconds 5] [--workers 2] [--threads 8]
                                       [--requests 3000] [--rounds 6]
    python benchmarks/serve_latency.py --quick    # the test suite's smoke run

Everything listens on 127.0.0.1 and every load level is bounded in time and
in requests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

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
# The longest one block of the protocol comparison may run, whatever its requests.
MAX_BLOCK_SECONDS = 60.0
PREDICT_PATH = "/v1/models/bench:predict"
INFER_PATH = "/v2/models/bench/infer"
# The goal the protocol comparison is judged by, at its largest number of clients.
INFER_GOAL_RATIO = 1.2
# The service's token (predictions are public here, `--public-predict`).
TOKEN = "bench-token-0123456789abcdef"


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


def protocol_bodies(rows: np.ndarray) -> dict[str, tuple[str, str]]:
    """The same rows as a `:predict` request and as an Open Inference Protocol request.

    Args:
        rows: float32 array of shape (rows, *input_shape).

    Returns:
        Protocol name -> (path, JSON body).
    """
    infer = {"inputs": [{"name": "inputs", "shape": list(rows.shape), "datatype": "FP32",
                         "data": rows.ravel().tolist()}]}
    return {":predict": (PREDICT_PATH, json.dumps({"instances": rows.tolist()})),
            "/infer": (INFER_PATH, json.dumps(infer))}


def post(port: int, path: str, body: str) -> tuple[int, bytes]:
    """One request on a new connection: its status and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_for_answer(port: int, path: str, body: str, timeout: float,
                    process: subprocess.Popen) -> None:
    """Sends `body` until it is answered 200 (the model is loaded).

    Raises:
        TimeoutError: Not within `timeout` seconds, or `process` died.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TimeoutError(f"the server exited with status {process.returncode}")
        try:
            if post(port, path, body)[0] == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{path} did not answer 200 within {timeout:.0f} s")


def check_same_outputs(port: int, bodies: dict[str, tuple[str, str]]) -> None:
    """Both protocols answer 200 with the same outputs, so the comparison compares
    equal work.

    Raises:
        SystemExit: A protocol failed, or their outputs differ.
    """
    answers = {}
    for name, (path, body) in bodies.items():
        status, text = post(port, path, body)
        if status != 200:
            raise SystemExit(f"{name} answered {status}: {text[:500]!r}")
        answers[name] = json.loads(text)
    predicted = np.ravel(answers[":predict"]["predictions"])
    inferred = np.asarray(answers["/infer"]["outputs"][0]["data"])
    if predicted.shape != inferred.shape or not np.allclose(predicted, inferred, atol=1e-6):
        raise SystemExit(f"/infer and :predict disagree: {inferred[:6]} vs {predicted[:6]}")


def load_level(port: int, path: str, body: str, clients: int, seconds: float,
               requests: int = MAX_REQUESTS_PER_LEVEL) -> dict:
    """Sends `body` to `path` from `clients` keep-alive threads until `requests` are
    sent or `seconds` have passed.

    Args:
        port: The server's port on 127.0.0.1.
        path: The route.
        body: The JSON body of every request.
        clients: Concurrent clients, one connection each.
        seconds: The most time the level runs.
        requests: The most requests it sends, all clients together.

    Returns:
        `summary` of the answered requests, with their `latencies` (seconds,
        sorted) and the level's `elapsed` seconds.
    """
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    budget = [requests]

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
    return {**summary(latencies, errors[0], elapsed), "latencies": sorted(latencies),
            "elapsed": elapsed}


def summary(latencies: list[float], errors: int, elapsed: float) -> dict:
    """Requests, errors, p50/p95/p99 latency (ms) and requests per second.

    Args:
        latencies: Seconds of each answered request.
        errors: Requests that failed or were not answered 200.
        elapsed: Seconds the requests took, all clients together.
    """
    ordered = sorted(latencies)

    def percentile(share: float) -> float:
        return 1000 * ordered[int(share * (len(ordered) - 1))] if ordered else float("nan")

    return {
        "requests": len(ordered),
        "errors": errors,
        "p50_ms": 1000 * statistics.median(ordered) if ordered else float("nan"),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
        "rps": len(ordered) / elapsed if elapsed else float("nan"),
    }


def compare_protocols(port: int, bodies: dict[str, tuple[str, str]], clients: int,
                      requests: int, rounds: int) -> dict[str, dict]:
    """The same requests through each protocol, in back-to-back blocks of `requests / rounds`,
    the first protocol of a round alternating, so neither gets the quieter moments.

    Args:
        port: The service's port on 127.0.0.1.
        bodies: Protocol name -> (path, body), as `protocol_bodies` gives.
        clients: Concurrent clients of each block.
        requests: Requests per protocol, all rounds together.
        rounds: Blocks per protocol.

    Returns:
        Protocol name -> `summary` of all its blocks.
    """
    per_block = max(clients, requests // rounds)
    names = list(bodies)
    blocks: dict[str, list[dict]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            path, body = bodies[name]
            blocks[name].append(load_level(port, path, body, clients, MAX_BLOCK_SECONDS,
                                           per_block))
    return {name: summary([latency for block in done for latency in block["latencies"]],
                          sum(block["errors"] for block in done),
                          sum(block["elapsed"] for block in done))
            for name, done in blocks.items()}


def print_protocol_table(results: dict[tuple[int, int], dict[str, dict]]) -> None:
    """The protocols' latencies per case, infer p50 / predict p50, and the goal's verdict.

    Args:
        results: (rows per request, clients) -> `compare_protocols`'s answer.
    """
    print(f"{'protocol':<9} {'rows':>5} {'clients':>7} {'requests':>8} {'errors':>6} "
          f"{'p50 ms':>8} {'p95 ms':>8} {'req/s':>8}")
    for (rows, clients), case in results.items():
        for name, result in case.items():
            print(f"{name:<9} {rows:>5} {clients:>7} {result['requests']:>8} "
                  f"{result['errors']:>6} {result['p50_ms']:>8.2f} {result['p95_ms']:>8.2f} "
                  f"{result['rps']:>8.1f}")
    most_clients = max(clients for _, clients in results)
    met = True
    for (rows, clients), case in results.items():
        ratio = case["/infer"]["p50_ms"] / case[":predict"]["p50_ms"]
        print(f"/infer p50 / :predict p50 at {rows} row(s), {clients} client(s): {ratio:.2f}x")
        if clients == most_clients:
            met = met and ratio <= INFER_GOAL_RATIO and not any(
                result["errors"] for result in case.values())
    print(f"goal (/infer p50 within {INFER_GOAL_RATIO}x of :predict with 0 errors at "
          f"{most_clients} clients): {'met' if met else 'NOT met'}")


def start(command: list[str], env: dict[str, str], log_path: str) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log_path, "wb"), cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per load level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--protocol-rows", type=int, nargs="+", default=[1, 100],
                        help="rows per request of the /infer vs :predict comparison")
    parser.add_argument("--protocol-clients", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--requests", type=int, default=3000,
                        help="per protocol and case of the comparison")
    parser.add_argument("--rounds", type=int, default=6,
                        help="blocks per protocol and case, their order alternating")
    parser.add_argument("--quick", action="store_true",
                        help="tiny budgets (one worker, a few requests), for the smoke test")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.workers, args.threads, args.clients = 0.5, 1, 4, [1, 4]
        args.protocol_clients, args.requests, args.rounds = [1, 4], 16, 2
    warm_up_seconds = 1.0 if args.quick else 3.0

    data_dir = tempfile.mkdtemp(prefix="evokt-bench-")
    model_path = prepare_model(data_dir)
    x_val = load_builtin("iris").x_val
    row = x_val[0].tolist()
    single = json.dumps({"instances": [row]})
    evokt_port, naive_port = free_port(), free_port()
    env = {**os.environ, "EVOKT_API_TOKEN": TOKEN, "NAIVE_MODEL_PATH": model_path}
    evokt = start([os.path.join(os.path.dirname(sys.executable), "evokt"), "serve",
                   "--port", str(evokt_port), "--data-dir", data_dir, "--public-predict",
                   "--workers", str(args.workers), "--threads", str(args.threads)],
                  env, os.path.join(data_dir, "evokt.log"))
    naive = start([sys.executable, "-m", "gunicorn", "--worker-class", "gthread",
                   "--workers", str(args.workers), "--threads", str(args.threads),
                   "--bind", f"127.0.0.1:{naive_port}", "--no-control-socket",
                   "--pythonpath", os.path.join(ROOT, "benchmarks"), "naive_predict_app:app"],
                  env, os.path.join(data_dir, "naive.log"))
    endpoints = [("evokt", evokt_port, PREDICT_PATH, evokt),
                 ("naive model.predict()", naive_port, "/predict", naive)]
    cases = {rows: protocol_bodies(np.resize(x_val, (rows, *x_val.shape[1:])))
             for rows in args.protocol_rows}
    try:
        wait_until_ready(f"http://127.0.0.1:{evokt_port}/v2/health/ready", 120, evokt)
        for _, port, path, process in endpoints:
            wait_for_answer(port, path, single, 120, process)
            load_level(port, path, single, 2 * args.workers, warm_up_seconds)  # every worker
        print(f"{'endpoint':<22} {'clients':>7} {'requests':>8} {'errors':>6} "
              f"{'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        results = {}
        for clients in args.clients:
            for name, port, path, _ in endpoints:
                result = load_level(port, path, single, clients, args.seconds)
                results[(name, clients)] = result
                print(f"{name:<22} {clients:>7} {result['requests']:>8} {result['errors']:>6} "
                      f"{result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} {result['rps']:>8.1f}",
                      flush=True)
        for clients in args.clients:
            ratio = (results[("naive model.predict()", clients)]["p50_ms"]
                     / results[("evokt", clients)]["p50_ms"])
            print(f"p50 speed-up over model.predict() at {clients} clients: {ratio:.1f}x")

        print(f"\n/infer and :predict of the same service and model: {args.requests} requests "
              f"each per case, in {args.rounds} alternating blocks", flush=True)
        for bodies in cases.values():
            check_same_outputs(evokt_port, bodies)
            for path, body in bodies.values():
                load_level(evokt_port, path, body, 2 * args.workers, warm_up_seconds)
        protocols = {(rows, clients): compare_protocols(evokt_port, bodies, clients,
                                                        args.requests, args.rounds)
                     for rows, bodies in cases.items() for clients in args.protocol_clients}
        print_protocol_table(protocols)
    finally:
        for process in (evokt, naive):
            process.send_signal(signal.SIGTERM)
        for process in (evokt, naive):
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
