"""Chief and workers: one search spread over processes and machines.

This is KerasTuner's own distribution: the chief process holds the oracle and
serves it over gRPC; each worker sets `KERASTUNER_TUNER_ID`,
`KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`, asks the chief for
trials and trains them. evokt's oracles run there unchanged (their state
never leaves the chief). What evokt adds:

- local workers started by the chief (`evokt search --workers N`), each with
  its TensorFlow threads limited to its share of the cores and, on a machine
  with GPUs, a GPU of its own (`CUDA_VISIBLE_DEVICES`; memory growth when
  workers outnumber GPUs), and started again if one dies, its trial handed to
  the next worker at once;
- workers on a Ray cluster (`--ray ADDRESS`, `evokt.search.ray_workers`),
  placed by Ray's scheduler, replaced likewise when a process or node dies;
- `evokt worker`, which fetches the search (`search.json`, and its data file
  when its machine lacks it) from the chief, so a remote worker needs only
  the chief's address and the search's token;
- the chief's port refuses calls without the search's token, and serves the
  trials' files so no file system need be shared
  (`evokt.chief.auth`, `evokt.chief.files`);
- `workers.json` in the project directory: each worker's node, GPUs, state
  and trial (`evokt.search.placement`);
- a watcher that reports the chief's trials to the same observers a
  single-process search has (progress bar, job store);
- the chief deletes the checkpoints `keep_checkpoints` no longer keeps (a
  worker's oracle is remote, so its tuner leaves that to the chief).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent import futures
from dataclasses import dataclass
from dataclasses import field

import keras_tuner
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief

from evokt.chief.auth import ChiefSecurity
from evokt.chief.auth import add_port
from evokt.chief.auth import project_token
from evokt.chief.auth import server_interceptors
from evokt.chief.files import ChiefFiles
from evokt.clock import SYSTEM_CLOCK
from evokt.clock import Clock
from evokt.compat import synchronized
from evokt.oracles.tuner import EvoktTuner
from evokt.search import placement
from evokt.search.errors import SpecError
from evokt.search.layout import DATA_NAME
from evokt.search.layout import SPEC_FILE
from evokt.search.observe import SearchObserver
from evokt.search.placement import Placement
from evokt.search.placement import WorkerRecord
from evokt.supervisor import RestartBudget
from evokt.supervisor import Supervisor
from evokt.supervisor import describe_exit

CHIEF_ID = "chief"
# Local workers started again after dying, at most, before the chief gives up.
MAX_WORKER_RESTARTS = 10


@dataclass
class Distribution:
    """How a chief runs a search.

    Args:
        host: Address the chief's oracle listens on.
        port: Its port; 0 picks a free one (for local workers).
        local_workers: Worker processes the chief starts: on this machine, or
            on the Ray cluster with `ray_address`.
        ray_address: Run the workers on the Ray cluster at this address (as
            `ray.init` takes it: auto, HOST:PORT, ray://HOST:10001, or local
            for a private Ray instance); None for local processes.
        worker_resources: What each Ray worker asks for (`{"CPU": 4, "GPU":
            1}`); None for one GPU where the cluster has GPUs, else one CPU.
        security: The port's token and TLS; None, or one without a token,
            for the search's own token (`chief.token` in its project
            directory).
        gpus: The GPUs local workers are given, one each in turn; None to
            find this machine's (`visible_gpus`).
    """

    host: str = "127.0.0.1"
    port: int = 0
    local_workers: int = 0
    ray_address: str | None = None
    worker_resources: dict[str, float] | None = None
    security: ChiefSecurity | None = None
    gpus: list[str] | None = field(default=None, repr=False)

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


def visible_gpus() -> list[str]:
    """This machine's GPUs for local workers: those `CUDA_VISIBLE_DEVICES`
    names when it is set, else those `nvidia-smi` lists (none without it)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [gpu.strip() for gpu in visible.split(",") if gpu.strip() and gpu.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


def gpu_environment(slot: int, workers: int, gpus: list[str]) -> dict[str, str]:
    """The variables that give local worker `slot` of `workers` its GPU.

    Worker i sees GPU i mod G alone; when workers outnumber GPUs, TensorFlow
    allocates memory as it needs it rather than all of its GPU, so workers
    sharing one fit. With no GPU, nothing changes.

    Args:
        slot: The worker's place, 0 to `workers` - 1 (a replacement takes the
            place of the worker it replaces).
        workers: How many local workers there are.
        gpus: The GPUs to share out.
    """
    if not gpus:
        return {}
    environment = {"CUDA_VISIBLE_DEVICES": gpus[slot % len(gpus)]}
    if workers > len(gpus):
        environment["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    return environment


@synchronized
def release_tuner(oracle: keras_tuner.Oracle, tuner_id: str) -> None:
    """Hands a dead worker's trial to the next worker that asks, for any oracle.

    evokt's oracles do this themselves (`release_tuner`); for KerasTuner's,
    the trial goes to its retry queue, which `create_trial` serves first.

    Args:
        oracle: The chief's oracle.
        tuner_id: The dead worker's id.
    """
    if hasattr(oracle, "release_tuner"):
        oracle.release_tuner(tuner_id)
        return
    trial = oracle.ongoing_trials.pop(tuner_id, None)
    oracle.tuner_ids.discard(tuner_id)
    if trial is not None and trial.trial_id not in oracle.end_order:
        oracle._retry_queue.append(trial.trial_id)
        oracle.save()


def search_needs_workers(oracle: keras_tuner.Oracle, stop_triggered: bool) -> bool:
    """Whether a dead worker must be replaced: trials are still to be handed
    out, or a lost one waits to run again."""
    return not stop_triggered or bool(oracle._retry_queue)


class LocalWorkers:
    """Worker processes on this machine, started again when one dies.

    Args:
        distribution: The chief's address and how many workers to run.
        project_dir: The search's project directory.
        oracle: The chief's oracle, told at once when a worker dies.
        placement: Where the workers' records go.
        clock: Times the workers' stop.
    """

    def __init__(self, distribution: Distribution, project_dir: str, oracle: keras_tuner.Oracle,
                 placement: Placement, clock: Clock = SYSTEM_CLOCK):
        self.distribution = distribution
        self.project_dir = project_dir
        self.oracle = oracle
        self.placement = placement
        self.clock = clock
        self.supervisor = Supervisor(clock)
        self.restarts = RestartBudget(MAX_WORKER_RESTARTS, clock=clock)
        self.gpus = distribution.gpus if distribution.gpus is not None else visible_gpus()
        self._slots: dict[str, int] = {}
        self._next_id = 0

    def start(self) -> None:
        for slot in range(self.distribution.local_workers):
            self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        tuner_id = f"worker{self._next_id}"
        self._next_id += 1
        self._slots[tuner_id] = slot
        workers = self.distribution.local_workers
        gpus = gpu_environment(slot, workers, self.gpus)
        security = self.distribution.security
        child = self.supervisor.start(
            tuner_id,
            # `evokt worker`, with the interpreter of this process; the token
            # goes in its environment, never in its arguments.
            [sys.executable, "-m", "evokt.search.cli", "worker", "--chief",
             self.distribution.address, "--project-dir", self.project_dir, "--tuner-id", tuner_id,
             "--threads", str(threads_per_worker(workers))],
            env={**os.environ, **gpus, **(security.worker_environment() if security else {})},
        )
        self.placement.add(WorkerRecord(
            tuner_id, node=socket.gethostname(), host=self.distribution.host, pid=child.pid,
            gpus=[gpus["CUDA_VISIBLE_DEVICES"]] if gpus else [],
            resources={"CPU": float(threads_per_worker(workers)),
                       **({"GPU": 1.0} if gpus else {})}))

    def check(self, stop_triggered: bool) -> None:
        """Replaces workers that died while the search still needs them."""
        for tuner_id, code in self.supervisor.ended():
            slot = self._slots.pop(tuner_id)
            if code == 0:
                self.placement.end(tuner_id, placement.LEFT)
                continue
            self.placement.end(tuner_id, placement.LOST, describe_exit(code))
            release_tuner(self.oracle, tuner_id)
            if search_needs_workers(self.oracle, stop_triggered) and self.restarts.allow():
                self._spawn(slot)

    def stop(self, timeout: float = 60.0) -> None:
        """Waits up to `timeout` seconds for the workers to leave; kills the rest."""
        deadline = self.clock.monotonic() + timeout
        for tuner_id in list(self.supervisor.children):
            self.supervisor.wait(tuner_id, deadline - self.clock.monotonic())
        self.supervisor.stop_all(0)
        for tuner_id in list(self._slots):
            self.placement.end(tuner_id, placement.LEFT)


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
        # (trial id, epoch, metrics) of the epochs workers reported, on gRPC's threads.
        self._epochs: collections.deque[tuple[str, int, dict]] = collections.deque()
        reports = getattr(oracle, "epoch_reports", None)
        if observer is not None and reports is not None:
            reports.add_listener(lambda trial, epoch, metrics: self._epochs.append(
                (trial.trial_id, epoch, metrics)))

    def poll(self) -> None:
        started, ended = list(self.oracle.start_order), list(self.oracle.end_order)
        if self.observer is not None:
            for trial_id in started[self._seen_started:]:
                self.observer.trial_started(self.oracle, self.oracle.trials[trial_id])
            while self._epochs:
                trial_id, epoch, metrics = self._epochs.popleft()
                self.observer.epoch_ended(self.oracle, self.oracle.trials[trial_id], epoch,
                                          metrics)
            for trial_id in ended[self._seen_ended:]:
                self.observer.trial_ended(self.oracle, self.oracle.trials[trial_id])
        self._seen_started, self._seen_ended = len(started), len(ended)


class ChiefServicer(oracle_chief.OracleServicer):
    """KerasTuner's oracle service, noting which worker each trial went to.

    Args:
        oracle: The chief's oracle.
    """

    def __init__(self, oracle: keras_tuner.Oracle):
        super().__init__(oracle)
        # (tuner id, trial id) of every trial handed out, in order.
        self.handed_out: list[tuple[str, str]] = []

    def CreateTrial(self, request, context):  # noqa: N802 (gRPC's name)
        response = super().CreateTrial(request, context)
        if response.trial.status == protos.get_proto().TrialStatus.RUNNING:
            self.handed_out.append((request.tuner_id, response.trial.trial_id))
        return response


def serve_oracle(oracle: keras_tuner.Oracle, address: str, security: ChiefSecurity,
                 files: ChiefFiles | None = None):
    """Starts KerasTuner's gRPC oracle service for `oracle` on `address`.

    Args:
        oracle: The chief's oracle.
        address: `HOST:PORT` to listen on.
        security: The token every call must carry, and TLS.
        files: The trials' files to serve beside the oracle, if any.

    Returns:
        The running server and its `ChiefServicer` (whose `stop_triggered`
        tells that a worker was sent STOPPED).
    """
    import grpc

    from evokt.chief.auth import CHANNEL_OPTIONS

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         interceptors=server_interceptors(security), options=CHANNEL_OPTIONS)
    servicer = ChiefServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    if files is not None:
        server.add_generic_rpc_handlers((files.handler(),))
    add_port(server, address, security)
    server.start()
    return server, servicer


def run_chief(tuner: EvoktTuner, distribution: Distribution, project_dir: str,
              observer: SearchObserver | None, data_path: str | None = None,
              poll_seconds: float = 0.2) -> None:
    """Serves the tuner's oracle to the workers until every trial has ended.

    This is KerasTuner's chief server (its `OracleServicer`, gRPC), with a
    loop of evokt's own around it: KerasTuner's checks for the end every 20
    seconds and never stops its server; this one checks every `poll_seconds`,
    supervises the workers (local or on Ray), reports progress, writes
    `workers.json`, deletes the checkpoints no longer kept when trials have
    ended, and stops the server.

    Args:
        tuner: The chief's tuner.
        distribution: Where the workers run and how the port is guarded.
        project_dir: The search's project directory (absolute).
        observer: Told of every trial's start and end, or None.
        data_path: The search's data file, which workers may fetch; None for
            a bundled dataset.
        poll_seconds: Seconds between two looks at the workers.
    """
    security = distribution.security or ChiefSecurity()
    if security.token is None:
        security = dataclasses.replace(security, token=project_token(project_dir))
    distribution = dataclasses.replace(distribution, security=security)
    tuner.oracle.verbose = 0
    tuner.save()
    if distribution.ray_address is not None:
        from evokt.search.ray_workers import RayWorkers

        workers = RayWorkers(distribution, tuner.oracle, Placement(
            project_dir, "ray", distribution.ray_address))
        distribution = workers.distribution
    else:
        workers = LocalWorkers(distribution, project_dir, tuner.oracle,
                               Placement(project_dir, "local"))
    workers.start()  # before gRPC's threads exist; workers wait for the port
    # What a worker fetches to join: the spec, and the data unless bundled.
    served = {SPEC_FILE: os.path.join(project_dir, SPEC_FILE),
              **({DATA_NAME: data_path} if data_path else {})}
    server, servicer = serve_oracle(tuner.oracle, distribution.address, distribution.security,
                                    ChiefFiles(project_dir, served))
    watcher = ChiefWatcher(tuner.oracle, observer)
    pruned_at = -1
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(tuner.oracle)):
            time.sleep(poll_seconds)
            ended = len(tuner.oracle.end_order)
            watcher.poll()
            workers.check(stop_triggered=servicer.stop_triggered)
            workers.placement.follow(tuner.oracle, servicer.handed_out)
            workers.placement.write()
            if ended != pruned_at:
                tuner.prune_checkpoints()
                pruned_at = ended
        watcher.poll()
        tuner.prune_checkpoints()
    finally:
        workers.stop()
        workers.placement.write()
        server.stop(grace=5)
