"""Chief and workers: one search spread over processes and machines.

This is KerasTuner's own distribution: the chief process holds the oracle and
serves it over gRPC; each worker sets `KERASTUNER_TUNER_ID`,
`KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`, asks the chief for
trials and trains them. evokt's oracles run there unchanged (their state
never leaves the chief). What evokt adds:

- local workers started by the chief (`evokt search --workers N`), each with
  its TensorFlow threads limited to its share of the cores, and started again
  if one dies, its trial handed to the next worker at once;
- `evokt worker`, which rebuilds the search from the shared project
  directory (`search.json`) so a remote worker needs only that directory and
  the chief's address;
- a watcher that reports the chief's trials to the same observers a
  single-process search has (progress bar, job store);
- the chief deletes the checkpoints `keep_checkpoints` no longer keeps (a
  worker's oracle is remote, so its tuner leaves that to the chief).

The chief's gRPC port has no authentication: keep it on a private network.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from concurrent import futures
from dataclasses import dataclass

import keras_tuner

from evokt.clock import SYSTEM_CLOCK
from evokt.clock import Clock
from evokt.oracles.tuner import EvoktTuner
from evokt.search.errors import SpecError
from evokt.search.observe import SearchObserver
from evokt.supervisor import RestartBudget
from evokt.supervisor import Supervisor

CHIEF_ID = "chief"
# Local workers started again after dying, at most, before the chief gives up.
MAX_WORKER_RESTARTS = 10


@dataclass
class Distribution:
    """How a chief runs a search.

    Args:
        host: Address the chief's oracle listens on.
        port: Its port; 0 picks a free one (for local workers).
        local_workers: Worker processes the chief starts on this machine.
    """

    host: str = "127.0.0.1"
    port: int = 0
    local_workers: int = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` as (host, port); port 0 means "pick a free one".

    Raises:
        SpecError: Not of that form.
    """
    host, separator, port = text.rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise SpecError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def cluster_environment(tuner_id: str, host: str, port: int) -> dict[str, str]:
    """The variables by which KerasTuner finds its chief."""
    return {
        "KERASTUNER_TUNER_ID": tuner_id,
        "KERASTUNER_ORACLE_IP": host,
        "KERASTUNER_ORACLE_PORT": str(port),
    }


def threads_per_worker(workers: int) -> int:
    """Each local worker's share of the cores, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class LocalWorkers:
    """Worker processes on this machine, started again when one dies.

    Args:
        distribution: The chief's address and how many workers to run.
        project_dir: The search's project directory.
        oracle: The chief's oracle, told at once when a worker dies.
        clock: Times the workers' stop.
    """

    def __init__(self, distribution: Distribution, project_dir: str, oracle: keras_tuner.Oracle,
                 clock: Clock = SYSTEM_CLOCK):
        self.distribution = distribution
        self.project_dir = project_dir
        self.oracle = oracle
        self.clock = clock
        self.supervisor = Supervisor(clock)
        self.restarts = RestartBudget(MAX_WORKER_RESTARTS, clock=clock)
        self._next_id = 0

    def start(self) -> None:
        for _ in range(self.distribution.local_workers):
            self._spawn()

    def _spawn(self) -> None:
        tuner_id = f"worker{self._next_id}"
        self._next_id += 1
        threads = str(threads_per_worker(self.distribution.local_workers))
        self.supervisor.start(
            tuner_id,
            # `evokt worker`, with the interpreter of this process.
            [sys.executable, "-m", "evokt.search.cli", "worker", "--chief",
             self.distribution.address, "--project-dir", self.project_dir, "--tuner-id", tuner_id,
             "--threads", threads],
        )

    def check(self, search_done: bool) -> None:
        """Replaces workers that died while the search still runs."""
        for tuner_id, code in self.supervisor.ended():
            if code == 0:
                continue
            if hasattr(self.oracle, "release_tuner"):
                self.oracle.release_tuner(tuner_id)
            if not search_done and self.restarts.allow():
                self._spawn()

    def stop(self, timeout: float = 60.0) -> None:
        """Waits up to `timeout` seconds for the workers to leave; kills the rest."""
        deadline = self.clock.monotonic() + timeout
        for tuner_id in list(self.supervisor.children):
            self.supervisor.wait(tuner_id, deadline - self.clock.monotonic())
        self.supervisor.stop_all(0)


class ChiefWatcher:
    """Tells an observer of the trials the chief's workers start and end.

    On the chief, KerasTuner's tuner hooks never fire (workers run the
    trials), so the chief's loop calls `poll`, which follows the oracle's
    start and end orders.

    Args:
        oracle: The chief's oracle.
        observer: The observer to tell, or None.
    """

    def __init__(self, oracle: keras_tuner.Oracle, observer: SearchObserver | None):
        self.oracle = oracle
        self.observer = observer
        self._seen_started = len(oracle.start_order)
        self._seen_ended = len(oracle.end_order)

    def poll(self) -> None:
        started, ended = list(self.oracle.start_order), list(self.oracle.end_order)
        if self.observer is not None:
            for trial_id in started[self._seen_started:]:
                self.observer.trial_started(self.oracle, self.oracle.trials[trial_id])
            for trial_id in ended[self._seen_ended:]:
                self.observer.trial_ended(self.oracle, self.oracle.trials[trial_id])
        self._seen_started, self._seen_ended = len(started), len(ended)


def serve_oracle(oracle: keras_tuner.Oracle, address: str):
    """Starts KerasTuner's gRPC oracle service for `oracle` on `address`.

    Returns:
        The running server and its `OracleServicer` (whose `stop_triggered`
        tells that a worker was sent STOPPED).
    """
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    server.add_insecure_port(address)
    server.start()
    return server, servicer


def run_chief(tuner: EvoktTuner, distribution: Distribution, project_dir: str,
              observer: SearchObserver | None, poll_seconds: float = 0.2) -> None:
    """Serves the tuner's oracle to the workers until every trial has ended.

    This is KerasTuner's chief server (its `OracleServicer`, gRPC), with a
    loop of evokt's own around it: KerasTuner's checks for the end every 20
    seconds and never stops its server; this one checks every `poll_seconds`,
    supervises the local workers, reports progress, deletes the checkpoints
    no longer kept when trials have ended, and stops the server.
    """
    from keras_tuner.src.distribute import oracle_chief

    tuner.oracle.verbose = 0
    tuner.save()
    workers = LocalWorkers(distribution, project_dir, tuner.oracle)
    workers.start()  # before gRPC's threads exist; workers wait for the port
    server, servicer = serve_oracle(tuner.oracle, distribution.address)
    watcher = ChiefWatcher(tuner.oracle, observer)
    pruned_at = -1
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(tuner.oracle)):
            time.sleep(poll_seconds)
            ended = len(tuner.oracle.end_order)
            watcher.poll()
            workers.check(search_done=servicer.stop_triggered)
            if ended != pruned_at:
                tuner.prune_checkpoints()
                pruned_at = ended
        watcher.poll()
        tuner.prune_checkpoints()
    finally:
        workers.stop()
        server.stop(grace=5)
