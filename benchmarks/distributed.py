"""Parallel search: trials per minute with 1, 2 and 4 workers, and the chief's cost per request.

1. A real search (`digits`, MLP hypermodel) with 1, 2 and 4 local worker
   processes through the same code as `evokt search --workers N`: wall time
   and trials per minute, with worker start-up and without it.
2. A real chief (KerasTuner's gRPC service around a `GeneticOracle`) and many
   simulated workers, threads with KerasTuner's own `OracleClient`, each
   asking for trials and ending them at once with a synthetic score: the
   latency of `create_trial` and `end_trial` as seen by a worker, and what
   the chief serves per second.

    python benchmarks/distributed.py [--trials 24] [--epochs 10] [--clients 8 32]

Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_tuner  # noqa: E402
from keras_tuner.src.distribute.oracle_client import OracleClient  # noqa: E402

from tuner_ext import GeneticOracle  # noqa: E402
from tuner_ext.search.distributed import cluster_environment  # noqa: E402
from tuner_ext.search.distributed import free_port  # noqa: E402
from tuner_ext.search.distributed import serve_oracle  # noqa: E402
from tuner_ext.search.observe import SearchObserver  # noqa: E402
from tuner_ext.search.pipeline import run_search  # noqa: E402
from tuner_ext.search.spec import SearchSpec  # noqa: E402


class EndTimes(SearchObserver):
    """When each trial ended."""

    def __init__(self):
        self.times: list[float] = []

    def trial_ended(self, oracle, trial) -> None:
        self.times.append(time.monotonic())


def trials_per_minute(workers: int, trials: int, epochs: int) -> tuple[float, float, float]:
    """Wall seconds, trials per minute overall, and between the first and last trial's end.

    The second rate leaves out the start-up (each worker imports TensorFlow).
    """
    directory = tempfile.mkdtemp(prefix="evokt-parallel-")
    ends = EndTimes()
    try:
        started = time.monotonic()
        run_search(
            SearchSpec(dataset="digits", hypermodel="mlp", max_trials=trials, epochs=epochs,
                       workers=workers),
            os.path.join(directory, "search"), os.path.join(directory, "model"), observer=ends,
        )
        seconds = time.monotonic() - started
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    steady = 60 * (len(ends.times) - 1) / (ends.times[-1] - ends.times[0])
    return seconds, 60 * trials / seconds, steady


def chief_latency(clients: int, trials_per_client: int) -> dict[str, float]:
    hp = keras_tuner.HyperParameters()
    hp.Int("num_layers", 1, 4)
    for i in range(4):
        with hp.conditional_scope("num_layers", list(range(i + 1, 5))):
            hp.Int(f"units_{i}", 16, 512, step=2, sampling="log")
            hp.Choice(f"activation_{i}", ["relu", "tanh", "elu", "gelu"])
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    total = clients * trials_per_client
    oracle = GeneticOracle(objective=keras_tuner.Objective("score", "max"), max_trials=total,
                           hyperparameters=hp, seed=0)
    directory = tempfile.mkdtemp(prefix="evokt-chief-")
    oracle._set_project_dir(directory, "project")
    oracle.verbose = 0
    port = free_port()
    server, _ = serve_oracle(oracle, f"127.0.0.1:{port}")
    create, end = [], []
    lock = threading.Lock()

    def worker(index: int) -> None:
        os.environ.update(cluster_environment(f"sim{index}", "127.0.0.1", port))
        client = OracleClient(oracle)
        mine_create, mine_end = [], []
        while True:
            started = time.perf_counter()
            trial = client.create_trial(f"sim{index}")
            mine_create.append(time.perf_counter() - started)
            if trial.status != "RUNNING":
                break
            score = -len(trial.hyperparameters.values) + trial.hyperparameters.values["num_layers"]
            started = time.perf_counter()
            client.update_trial(trial.trial_id, {"score": float(score)})
            trial.status = "COMPLETED"
            client.end_trial(trial)
            mine_end.append(time.perf_counter() - started)
        with lock:
            create.extend(mine_create)
            end.extend(mine_end)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    server.stop(grace=1)
    shutil.rmtree(directory, ignore_errors=True)
    create.sort()
    end.sort()
    return {
        "trials": len(oracle.end_order),
        "create_p50_ms": 1000 * statistics.median(create),
        "create_p99_ms": 1000 * create[int(0.99 * (len(create) - 1))],
        "end_p50_ms": 1000 * statistics.median(end),
        "trials_per_s": len(oracle.end_order) / seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--clients", type=int, nargs="*", default=[8, 32])
    parser.add_argument("--trials-per-client", type=int, default=25)
    args = parser.parse_args(argv)
    print(f"{'workers':>7} {'trials':>6} {'seconds':>8} {'trials/min':>10} {'steady trials/min':>17}")
    for workers in args.workers:
        seconds, rate, steady = trials_per_minute(workers, args.trials, args.epochs)
        print(f"{workers:>7} {args.trials:>6} {seconds:>8.1f} {rate:>10.1f} {steady:>17.1f}",
              flush=True)
    print(f"{'simulated workers':>17} {'trials':>6} {'create p50 ms':>13} {'create p99 ms':>13} "
          f"{'end p50 ms':>10} {'trials/s':>8}")
    for clients in args.clients:
        row = chief_latency(clients, args.trials_per_client)
        print(f"{clients:>17} {row['trials']:>6} {row['create_p50_ms']:>13.2f} "
              f"{row['create_p99_ms']:>13.2f} {row['end_p50_ms']:>10.2f} "
              f"{row['trials_per_s']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
