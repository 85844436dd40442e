"""Parallel search: trials per minute with 1, 2 and 4 workers, worker idle time,
and the chief's cost per request.

1. A real search (`digits`, MLP hypermodel) with 1, 2 and 4 local worker
   processes through the same code as `evokt search --workers N`: wall time
   and trials per minute, with worker start-up and without it.
2. Worker idle time: a real search with 2 local workers, for each strategy
   in `--idle-oracles`, with the chief's oracle logging when it hands each
   worker a trial and when the worker ends it. A worker is busy from hand-out
   to end (building, training, saving its model) and idle otherwise: waiting
   for the chief, or told IDLE while the last trials train elsewhere. Idle
   time is reported as a share of the search's wall time from the first
   hand-out to the last end (start-up, each worker importing TensorFlow, is
   shown apart).
3. A real chief (KerasTuner's gRPC service around a `GeneticOracle`) and many
   simulated workers, threads with KerasTuner's own `OracleClient`, each
   asking for trials and ending them at once with a synthetic score: the
   latency of `create_trial` and `end_trial` as seen by a worker, and what
   the chief serves per second.

    python benchmarks/distributed_search.py [--trials 24] [--epochs 10] [--clients 8 32]
    python benchmarks/distributed_search.py --workers --clients \
        --idle-oracles genetic-hyperband genetic

Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_tuner  # noqa: E402
from keras_tuner.src import protos  # noqa: E402
from keras_tuner.src.distribute.oracle_client import OracleClient  # noqa: E402

from evokt import GeneticOracle  # noqa: E402
from evokt.chief.auth import ChiefSecurity  # noqa: E402
from evokt.chief.auth import chief_channel  # noqa: E402
from evokt.oracles.genetic_hyperband import GeneticHyperbandOracle  # noqa: E402
from evokt.search.distributed import cluster_environment  # noqa: E402
from evokt.search.distributed import free_port  # noqa: E402
from evokt.search.distributed import serve_oracle  # noqa: E402
from evokt.search.observe import SearchObserver  # noqa: E402
from evokt.search.pipeline import run_search  # noqa: E402
from evokt.search.spec import SearchSpec  # noqa: E402


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


# Strategies whose idle time is measured, and the class of their chief's oracle.
IDLE_ORACLES = {"genetic-hyperband": GeneticHyperbandOracle, "genetic": GeneticOracle}


class HandOutLog:
    """Records, on the chief, when each worker gets a trial and ends it.

    Wraps `create_trial` and `end_trial` of an oracle class for the duration
    of a `with` block; the workers' processes are not touched.

    Args:
        oracle_class: The class of the chief's oracle.
    """

    def __init__(self, oracle_class: type):
        self.oracle_class = oracle_class
        # (time, tuner id, trial id) of each RUNNING hand-out; trial id -> end time.
        self.handed_out: list[tuple[float, str, str]] = []
        self.ended: dict[str, float] = {}

    def __enter__(self) -> HandOutLog:
        create, end = self.oracle_class.create_trial, self.oracle_class.end_trial
        # The class's own attributes, to put back (None: inherited).
        self._own = {name: self.oracle_class.__dict__.get(name)
                     for name in ("create_trial", "end_trial")}
        log = self

        def create_trial(oracle, tuner_id):
            trial = create(oracle, tuner_id)
            if trial.status == "RUNNING":
                log.handed_out.append((time.monotonic(), tuner_id, trial.trial_id))
            return trial

        def end_trial(oracle, trial):
            end(oracle, trial)
            log.ended.setdefault(trial.trial_id, time.monotonic())

        self.oracle_class.create_trial, self.oracle_class.end_trial = create_trial, end_trial
        return self

    def __exit__(self, *exc_info) -> None:
        for name, own in self._own.items():
            if own is None:
                delattr(self.oracle_class, name)
            else:
                setattr(self.oracle_class, name, own)

    def idle_share(self, window_start: float, window_end: float) -> dict[str, float]:
        """Each worker's idle share of the window [window_start, window_end]."""
        busy: dict[str, float] = {}
        for started, tuner_id, trial_id in self.handed_out:
            ended = self.ended.get(trial_id, window_end)
            overlap = min(ended, window_end) - max(started, window_start)
            busy[tuner_id] = busy.get(tuner_id, 0.0) + max(0.0, overlap)
        window = window_end - window_start
        return {tuner_id: 1 - seconds / window for tuner_id, seconds in sorted(busy.items())}


def worker_idle(strategy: str, workers: int, trials: int, epochs: int,
                max_epochs_budget: int | None) -> dict[str, float]:
    """Idle share of `workers` local workers in a real search of `strategy`."""
    directory = tempfile.mkdtemp(prefix="evokt-idle-")
    try:
        with HandOutLog(IDLE_ORACLES[strategy]) as log:
            started = time.monotonic()
            run_search(
                SearchSpec(dataset="digits", hypermodel="mlp", oracle=strategy,
                           max_trials=trials, epochs=epochs, workers=workers,
                           max_epochs_budget=max_epochs_budget),
                os.path.join(directory, "search"), os.path.join(directory, "model"),
            )
            finished = time.monotonic()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    first = min(handed for handed, _, _ in log.handed_out)
    last = max(log.ended.values())
    steady = log.idle_share(first, last)
    return {
        "trials": len(log.handed_out), "seconds": finished - started, "startup": first - started,
        "window": last - first, "idle": sum(steady.values()) / len(steady),
        "idle_max": max(steady.values()),
        "idle_with_startup": sum(log.idle_share(started, finished).values()) / len(steady),
    }


def simulated_space() -> keras_tuner.HyperParameters:
    """The conditional MLP-like space simulated workers search (here and in
    `ray_scaling.py`)."""
    hp = keras_tuner.HyperParameters()
    hp.Int("num_layers", 1, 4)
    for i in range(4):
        with hp.conditional_scope("num_layers", list(range(i + 1, 5))):
            hp.Int(f"units_{i}", 16, 512, step=2, sampling="log")
            hp.Choice(f"activation_{i}", ["relu", "tanh", "elu", "gelu"])
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    return hp


def chief_latency(clients: int, trials_per_client: int) -> dict[str, float]:
    hp = simulated_space()
    total = clients * trials_per_client
    oracle = GeneticOracle(objective=keras_tuner.Objective("score", "max"), max_trials=total,
                           hyperparameters=hp, seed=0)
    directory = tempfile.mkdtemp(prefix="evokt-chief-")
    oracle._set_project_dir(directory, "project")
    oracle.verbose = 0
    port = free_port()
    # The chief's port as evokt serves it: every call carries the search's token.
    token = secrets.token_urlsafe(32)
    server, _ = serve_oracle(oracle, f"127.0.0.1:{port}", ChiefSecurity(token))
    create, end = [], []
    lock = threading.Lock()

    def worker(index: int) -> None:
        os.environ.update(cluster_environment(f"sim{index}", "127.0.0.1", port))
        client = OracleClient(oracle)
        client.stub = protos.get_service_grpc().OracleStub(
            chief_channel(f"127.0.0.1:{port}", token))
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
    parser.add_argument("--idle-oracles", nargs="*", default=list(IDLE_ORACLES),
                        choices=list(IDLE_ORACLES),
                        help="strategies whose worker idle time is measured, with the budget "
                        "of --trials x --epochs epochs")
    parser.add_argument("--idle-workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"{'workers':>7} {'trials':>6} {'seconds':>8} {'trials/min':>10} "
          f"{'steady trials/min':>17}")
    for workers in args.workers:
        seconds, rate, steady = trials_per_minute(workers, args.trials, args.epochs)
        print(f"{workers:>7} {args.trials:>6} {seconds:>8.1f} {rate:>10.1f} {steady:>17.1f}",
              flush=True)
    if args.idle_oracles:
        print(f"{'strategy':<17} {'workers':>7} {'trials':>6} {'seconds':>7} {'start-up s':>10} "
              f"{'idle % (max)':>13} {'idle % with start-up':>20}")
    for strategy in args.idle_oracles:
        budgeted = strategy == "genetic-hyperband"
        row = worker_idle(strategy, args.idle_workers, args.trials, args.epochs,
                          args.trials * args.epochs if budgeted else None)
        print(f"{strategy:<17} {args.idle_workers:>7} {row['trials']:>6} {row['seconds']:>7.1f} "
              f"{row['startup']:>10.1f} {100 * row['idle']:>6.1f} ({100 * row['idle_max']:>4.1f}) "
              f"{100 * row['idle_with_startup']:>20.1f}", flush=True)
    print(f"{'simulated workers':>17} {'trials':>6} {'create p50 ms':>13} {'create p99 ms':>13} "
          f"{'end p50 ms':>10} {'trials/s':>8}")
    for clients in args.clients:
        row = chief_latency(clients, args.trials_per_client)
        print(f"{clients:>17} {row['trials']:>6} {row['create_p50_ms']:>13.2f} "
              f"{row['create_p99_ms']:>13.2f} {row['end_p50_ms']:>10.2f} "
              f"{row['trials_per_s']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
