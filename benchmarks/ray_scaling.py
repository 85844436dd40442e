"""Scale-out on Ray: simulated trials on 1 to 32 workers, real training, a node killed.

1. Simulated trials: workers that wait `--trial-seconds` per trial instead of
   training, against a real chief (evokt's gRPC service with its token, a real
   oracle), with 1, 2, 4, 8, 16 and 32 workers: as Ray actors on a local Ray
   instance (`evokt.search.ray_workers.RayWorkers`, as `evokt search --ray`
   places them), as local processes, and as Ray actors under KerasTuner's own
   oracles (random search, Hyperband). Each run hands out `--rounds` trials
   per worker. Trials per second and the idle share are measured on the chief
   from the first hand-out to the last end; efficiency is trials per second
   over the ideal, workers / trial seconds. A simulated worker speaks
   KerasTuner's gRPC protocol without importing KerasTuner or TensorFlow, so
   32 of them fit on this machine.
2. Real training: `evokt search --dataset digits --hypermodel cnn` with 1 and 2
   workers on Ray (`--ray local`, one CPU each) and 2 local workers, same
   seed and budget: wall time and best validation accuracy.
3. A node killed mid-search: a `ray.cluster_utils.Cluster` of one-CPU nodes,
   two workers of simulated trials and a spare node; the node of a worker in
   the middle of a trial is killed. Trials lost, trials counted twice, and the
   seconds from the kill until that trial is handed to another worker.

    python benchmarks/ray_scaling.py [--workers 1 2 4 8 16 32] [--trial-seconds 2]
        [--rounds 8] [--real-trials 8] [--real-epochs 3] [--skip-real]
        [--kill-trials 8] [--kill-trial-seconds 3] [--skip-kill]

Everything listens on 127.0.0.1 or this machine's own address.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

# The simulated worker's own process runs `simulated_worker` alone: nothing
# above or here imports KerasTuner or TensorFlow.
TOKEN_ENV = "EVOKT_CHIEF_TOKEN"
IDLE_SECONDS = 0.1


def _oracle_stub(chief: str, token: str | None):
    """KerasTuner's generated gRPC client for `chief`, without importing
    KerasTuner itself (whose package imports Keras and TensorFlow)."""
    import importlib.util
    import types

    import grpc

    root = os.path.dirname(importlib.util.find_spec("keras_tuner").origin)
    for name, path in (("keras_tuner", root), ("keras_tuner.src", os.path.join(root, "src")),
                       ("keras_tuner.src.protos", os.path.join(root, "src", "protos"))):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [path]
            sys.modules[name] = package
    from keras_tuner.src.protos.v4 import keras_tuner_pb2
    from keras_tuner.src.protos.v4 import service_pb2
    from keras_tuner.src.protos.v4 import service_pb2_grpc

    channel = grpc.insecure_channel(chief)
    metadata = [("authorization", f"Bearer {token}")] if token else []
    return keras_tuner_pb2, service_pb2, service_pb2_grpc.OracleStub(channel), metadata


def simulated_worker(chief: str, project_dir: str, tuner_id: str, threads: int,
                     token: str | None = None, trial_seconds: float = 2.0) -> None:
    """A worker whose trials wait `trial_seconds`: `evokt worker`'s loop
    (ask, train, report, end) with the training replaced by a wait.

    Args are `evokt.search.worker.run_worker`'s, so `RayWorkers` runs it in
    its actors; `project_dir` and `threads` are not needed.
    """
    proto, service, stub, metadata = _oracle_stub(chief, token)
    while True:
        trial = stub.CreateTrial(service.CreateTrialRequest(tuner_id=tuner_id),
                                 metadata=metadata, wait_for_ready=True, timeout=60).trial
        if trial.status == proto.TrialStatus.STOPPED:
            return
        if trial.status != proto.TrialStatus.RUNNING:
            time.sleep(IDLE_SECONDS)
            continue
        time.sleep(trial_seconds)
        score = float(sum(trial.hyperparameters.SerializeToString()) % 997)
        stub.UpdateTrial(service.UpdateTrialRequest(trial_id=trial.trial_id,
                                                    metrics={"score": score}),
                         metadata=metadata, wait_for_ready=True, timeout=60)
        trial.status = proto.TrialStatus.COMPLETED
        stub.EndTrial(service.EndTrialRequest(trial=trial), metadata=metadata,
                      wait_for_ready=True, timeout=60)


def make_oracle(name: str, max_trials: int, directory: str):
    """A chief's oracle of `name` (genetic, random, hyperband) in `directory`."""
    import keras_tuner
    from distributed_search import simulated_space

    from evokt import GeneticOracle

    objective = keras_tuner.Objective("score", "max")
    if name == "genetic":
        oracle = GeneticOracle(objective=objective, max_trials=max_trials,
                               hyperparameters=simulated_space(), seed=0)
    elif name == "random":
        oracle = keras_tuner.oracles.RandomSearchOracle(
            objective=objective, max_trials=max_trials, hyperparameters=simulated_space(), seed=0)
    else:
        oracle = keras_tuner.oracles.HyperbandOracle(
            objective=objective, max_epochs=9, factor=3, hyperband_iterations=100,
            hyperparameters=simulated_space(), seed=0)
    oracle._set_project_dir(directory, "project")
    oracle.verbose = 0
    return oracle


class LocalSimulatedWorkers:
    """Simulated workers as processes of this machine (the local engine's
    counterpart of `RayWorkers`, with `simulated_worker` as their program)."""

    def __init__(self, count: int, address: str, token: str, trial_seconds: float):
        self.processes = [
            subprocess.Popen([sys.executable, os.path.abspath(__file__), "--simulated-worker",
                              address, f"local{i}", str(trial_seconds)],
                             env={**os.environ, TOKEN_ENV: token})
            for i in range(count)]

    def check(self, stop_triggered: bool) -> None:
        pass

    def stop(self, timeout: float = 60.0) -> None:
        for process in self.processes:
            process.wait(timeout)


def simulated_run(engine: str, oracle_name: str, workers: int, rounds: int,
                  trial_seconds: float) -> dict[str, float]:
    """One run of simulated workers against a real chief; the chief's figures."""
    import functools

    import ray
    from distributed_search import HandOutLog

    from evokt.chief.auth import ChiefSecurity
    from evokt.search.distributed import Distribution
    from evokt.search.distributed import free_port
    from evokt.search.distributed import serve_oracle
    from evokt.search.placement import Placement
    from evokt.search.ray_workers import RayWorkers

    trials = workers * rounds
    directory = tempfile.mkdtemp(prefix="evokt-ray-scaling-")
    oracle = make_oracle(oracle_name, trials, directory)
    token = secrets.token_urlsafe(32)
    security = ChiefSecurity(token)
    with HandOutLog(type(oracle)) as log:
        started = time.monotonic()
        if engine == "ray":
            pool = RayWorkers(
                Distribution(local_workers=workers, ray_address="local",
                             worker_resources={"CPU": 1.0}, security=security),
                oracle, Placement(directory, "ray", "local"),
                worker_main=functools.partial(simulated_worker, trial_seconds=trial_seconds))
            address = pool.distribution.address
            pool.start()
        else:
            address = f"127.0.0.1:{free_port()}"
            pool = LocalSimulatedWorkers(workers, address, token, trial_seconds)
        server, servicer = serve_oracle(oracle, address, security)
        # Hyperband has no max_trials: every oracle stops after as many trials.
        while len(log.ended) < trials:
            pool.check(servicer.stop_triggered)
            time.sleep(0.05)
        finished = time.monotonic()
        # The workers go first, so none is cut off mid-call by the server's stop.
        if engine == "ray":
            for actor in pool._actors.values():
                ray.kill(actor)
        else:
            for process in pool.processes:
                process.kill()
                process.wait()
        server.stop(grace=0)
    shutil.rmtree(directory, ignore_errors=True)
    ends = sorted(log.ended.values())[:trials]
    first = min(handed for handed, _, _ in log.handed_out)
    last = ends[-1]
    # Each worker's idle share from its own first trial to the search's last
    # end: the start-up of each worker's process is shown apart (spread).
    joined: dict[str, float] = {}
    busy: dict[str, float] = {}
    for handed, tuner_id, trial_id in log.handed_out:
        joined.setdefault(tuner_id, handed)
        busy[tuner_id] = busy.get(tuner_id, 0.0) + min(log.ended.get(trial_id, last), last) - handed
    idle = [1 - busy[tuner_id] / (last - joined[tuner_id]) for tuner_id in joined]
    rate = len(ends) / (last - first)
    ideal = workers / trial_seconds
    return {"trials": len(ends), "seconds": finished - started, "startup": first - started,
            "spread": max(joined.values()) - first, "window": last - first, "rate": rate,
            "efficiency": rate / ideal, "idle": sum(idle) / len(idle)}


def simulated_table(counts: list[int], rounds: int, trial_seconds: float) -> None:
    import ray

    print(f"simulated trials of {trial_seconds:g} s, {rounds} per worker; trials/s and "
          f"efficiency (trials/s over workers / {trial_seconds:g} s) from the first hand-out "
          "to the last end; idle share of each worker's time from its own first trial; "
          "spread: the last worker's first trial after the first's")
    print(f"{'engine':<7} {'oracle':<10} {'workers':>7} {'trials':>6} {'start-up s':>10} "
          f"{'spread s':>8} {'window s':>8} {'trials/s':>8} {'efficiency':>10} {'idle %':>6}")
    # One private local Ray instance for every Ray run (never a cluster already
    # running on this machine), with a logical CPU per worker.
    ray.init(address="local", num_cpus=max(counts), include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        for workers in counts:
            for engine, oracle_name in (("ray", "genetic"), ("local", "genetic"),
                                        ("ray", "random"), ("ray", "hyperband")):
                row = simulated_run(engine, oracle_name, workers, rounds, trial_seconds)
                print(f"{engine:<7} {oracle_name:<10} {workers:>7} {row['trials']:>6} "
                      f"{row['startup']:>10.1f} {row['spread']:>8.2f} {row['window']:>8.2f} "
                      f"{row['rate']:>8.2f} "
                      f"{row['efficiency']:>10.3f} {100 * row['idle']:>6.1f}", flush=True)
    finally:
        ray.shutdown()


def real_run(flags: list[str], trials: int, epochs: int) -> tuple[float, float]:
    """Wall seconds and best val_accuracy of `evokt search` on digits with `flags`."""
    import json

    directory = tempfile.mkdtemp(prefix="evokt-ray-real-")
    try:
        started = time.monotonic()
        result = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "evokt"), "search",
             "--dataset", "digits", "--hypermodel", "cnn", "--max-trials", str(trials),
             "--epochs", str(epochs), "--seed", "0", *flags,
             "--project-dir", os.path.join(directory, "search"),
             "--output", os.path.join(directory, "model")],
            capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        if result.returncode != 0:
            raise SystemExit(f"evokt search {' '.join(flags)} failed:\n{result.stderr[-3000:]}")
        with open(os.path.join(directory, "model", "best.json")) as file:
            best = json.load(file)
        return seconds, best["objectives"][0]["value"]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def real_table(trials: int, epochs: int) -> None:
    print(f"real training: digits CNN, {trials} trials of {epochs} epochs, seed 0")
    print(f"{'run':<26} {'seconds':>8} {'speed-up':>8} {'best val_accuracy':>17}")
    runs = [("1 worker on Ray", ["--workers", "1", "--ray", "local"]),
            ("2 workers on Ray", ["--workers", "2", "--ray", "local"]),
            ("2 local workers", ["--workers", "2"])]
    base = None
    for name, flags in runs:
        seconds, score = real_run(flags, trials, epochs)
        base = base or seconds
        print(f"{name:<26} {seconds:>8.1f} {base / seconds:>8.2f} {score:>17.4f}", flush=True)


def node_kill(trial_seconds: float, trials: int) -> None:
    """Two simulated workers on one-CPU nodes; one's node killed mid-trial."""
    import ray
    from distributed_search import HandOutLog
    from keras_tuner.src.distribute import oracle_chief
    from ray.cluster_utils import Cluster

    from evokt.chief.auth import ChiefSecurity
    from evokt.search.distributed import Distribution
    from evokt.search.distributed import serve_oracle
    from evokt.search.placement import Placement
    from evokt.search.ray_workers import RayWorkers

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0,
                                                            "include_dashboard": False})
    directory = tempfile.mkdtemp(prefix="evokt-ray-kill-")
    try:
        nodes = [cluster.add_node(num_cpus=1) for _ in range(3)]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
        import functools

        oracle = make_oracle("genetic", trials, directory)
        security = ChiefSecurity(secrets.token_urlsafe(32))
        placement = Placement(directory, "ray", cluster.address)
        with HandOutLog(type(oracle)) as log:
            pool = RayWorkers(
                Distribution(local_workers=2, ray_address=cluster.address,
                             worker_resources={"CPU": 1.0}, security=security),
                oracle, placement,
                worker_main=functools.partial(simulated_worker, trial_seconds=trial_seconds))
            pool.start()
            server, servicer = serve_oracle(oracle, pool.distribution.address, security)
            killed_at = killed_trial = None
            while not (servicer.stop_triggered and oracle_chief.exit_chief(oracle)):
                pool.check(servicer.stop_triggered)
                placement.follow(oracle, servicer.handed_out)
                if killed_at is None and len(oracle.end_order) >= 2:
                    record = placement.records["worker0"]
                    if record.trial is not None and record.node is not None and any(
                            handed[1] == "worker0" and handed[2] == record.trial
                            and time.monotonic() - handed[0] > 0.2
                            for handed in log.handed_out):
                        node = next(node for node in nodes if node.node_id == record.node)
                        killed_trial = record.trial
                        killed_at = time.monotonic()
                        cluster.remove_node(node, allow_graceful=False)
                time.sleep(0.05)
            server.stop(grace=0)
            pool.stop(timeout=10)
        again = [handed for handed, tuner_id, trial_id in log.handed_out
                 if trial_id == killed_trial and tuner_id != "worker0"]
        ended = list(oracle.end_order)
        completed = [trial_id for trial_id in ended
                     if oracle.trials[trial_id].status == "COMPLETED"]
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(directory, ignore_errors=True)
    # Printed once the cluster is gone, after Ray's own notices of the dead node.
    print(f"node killed mid-trial: {trials} trials of {trial_seconds:g} s on 2 workers "
          "(one-CPU nodes, one spare)")
    print(f"{'trials ended':>12} {'completed':>9} {'lost':>4} {'counted twice':>13} "
          f"{'re-run after s':>14}")
    lost = trials - len(set(ended))
    twice = len(ended) - len(set(ended))
    rerun = f"{again[0] - killed_at:.2f}" if again and killed_at else "never"
    print(f"{len(ended):>12} {len(completed):>9} {lost:>4} {twice:>13} {rerun:>14}",
          flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--trial-seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--real-trials", type=int, default=8)
    parser.add_argument("--real-epochs", type=int, default=3)
    parser.add_argument("--kill-trials", type=int, default=8)
    parser.add_argument("--kill-trial-seconds", type=float, default=3.0)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-kill", action="store_true")
    parser.add_argument("--simulated-worker", nargs=3, metavar=("CHIEF", "ID", "SECONDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # Ray's token authentication, with a token of this run's own for the local
    # instance and the multi-node cluster alike (set before Ray reads its mode).
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))
    if args.simulated_worker:
        chief, tuner_id, seconds = args.simulated_worker
        simulated_worker(chief, "", tuner_id, 1, os.environ.get(TOKEN_ENV), float(seconds))
        return
    if args.workers:
        simulated_table(args.workers, args.rounds, args.trial_seconds)
    if not args.skip_real:
        real_table(args.real_trials, args.real_epochs)
    if not args.skip_kill:
        node_kill(args.kill_trial_seconds, args.kill_trials)


if __name__ == "__main__":
    main()
