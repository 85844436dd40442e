"""A search's workers on a Ray cluster (`evokt search --workers N --ray ADDRESS`).

The chief stays in the search's own process; each worker is a Ray actor
(one process, placed by Ray's scheduler on a node with the resources it asks
for) running the same loop as `evokt worker` (`evokt.search.worker`) in a
private directory of its own node. Nothing goes through a shared file
system: the spec, the data file and the trials' checkpoints travel through
the chief (`evokt.chief.files`), the token through Ray's own
transport (an actor call's argument: never a process's arguments). What
runs in the actor is `evokt.search.ray_actor`.

A worker whose process or node dies is noticed when Ray reports it (the
actor's call fails with `RayActorError`): its trial goes at once to the next
worker that asks (`release_tuner`), and a new actor takes its place while the
search still needs it. Needs the `ray` extra (`pip install 'evokt[ray]'`),
installed on every node with evokt itself.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import keras_tuner

from evokt.clock import SYSTEM_CLOCK
from evokt.clock import Clock
from evokt.search import placement
from evokt.search.distributed import MAX_WORKER_RESTARTS
from evokt.search.distributed import Distribution
from evokt.search.distributed import free_port
from evokt.search.distributed import release_tuner
from evokt.search.distributed import search_needs_workers
from evokt.search.errors import SearchFailedError
from evokt.search.errors import SpecError
from evokt.search.placement import Placement
from evokt.search.placement import WorkerRecord
from evokt.search.ray_actor import SearchWorker
from evokt.search.ray_actor import WorkerMain
from evokt.search.resources import threads_for
from evokt.supervisor import RestartBudget


def connect(address: str) -> bool:
    """Joins the Ray cluster at `address` ("local": a private instance).

    Returns:
        Whether this call started Ray in this process (so it shuts it down).

    Raises:
        SpecError: Ray is not installed, or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError:
        raise SpecError("--ray needs Ray: pip install 'evokt[ray]'") from None
    if ray.is_initialized():
        return False
    try:
        # The workers' output stays in Ray's logs, not in the search's.
        ray.init(address=address, log_to_driver=False, include_dashboard=False,
                 configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise SpecError(f"cannot join the Ray cluster at {address!r}: "
                        f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
                        ) from None
    return True


def default_resources() -> dict[str, float]:
    """One GPU (and a CPU) per worker where the cluster has GPUs, else one CPU."""
    import ray

    if ray.cluster_resources().get("GPU", 0) >= 1:
        return {"CPU": 1.0, "GPU": 1.0}
    return {"CPU": 1.0}


def actor_options(resources: dict[str, float]) -> dict[str, Any]:
    """Ray's `.options()` for an actor holding `resources`."""
    custom = dict(resources)
    options: dict[str, Any] = {"num_cpus": custom.pop("CPU", 0), "num_gpus": custom.pop("GPU", 0),
                               "max_restarts": 0, "max_task_retries": 0}
    if "memory" in custom:
        options["memory"] = custom.pop("memory")
    if custom:
        options["resources"] = custom
    return options


class RayWorkers:
    """The search's workers as Ray actors, replaced when one dies.

    Args:
        distribution: How many workers, the cluster's address, what each
            asks for, and the chief's port and security.
        oracle: The chief's oracle, told at once when a worker dies.
        placement: Where the workers' records go.
        worker_main: What each worker runs; `evokt worker`'s loop by default.
        clock: Times the restart budget.

    Raises:
        SpecError: Ray is missing or the cluster unreachable.
    """

    def __init__(self, distribution: Distribution, oracle: keras_tuner.Oracle,
                 placement: Placement, worker_main: WorkerMain | None = None,
                 clock: Clock = SYSTEM_CLOCK):
        self._started_ray = connect(distribution.ray_address)
        import ray

        if distribution.host in ("127.0.0.1", "localhost"):
            # Where the cluster's nodes reach this machine.
            host = ray.util.get_node_ip_address()
            distribution = dataclasses.replace(distribution, host=host, port=free_port(host))
        self.distribution = distribution
        self.oracle = oracle
        self.placement = placement
        self.resources = distribution.worker_resources or default_resources()
        if worker_main is None:
            from evokt.search.worker import run_worker as worker_main
        self.worker_main = worker_main
        self.restarts = RestartBudget(MAX_WORKER_RESTARTS, clock=clock)
        self._actor_class = ray.remote(SearchWorker)
        self._actors: dict[str, Any] = {}
        self._runs: dict[Any, str] = {}
        self._wheres: dict[Any, str] = {}
        self._next_id = 0
        self._last_error: str | None = None

    def start(self) -> None:
        for _ in range(self.distribution.local_workers):
            self._place()

    def _place(self) -> None:
        tuner_id = f"worker{self._next_id}"
        self._next_id += 1
        actor = self._actor_class.options(**actor_options(self.resources)).remote()
        security = self.distribution.security
        self._actors[tuner_id] = actor
        self._wheres[actor.where.remote()] = tuner_id
        self._runs[actor.run.remote(
            self.worker_main, self.distribution.address, tuner_id,
            security.token if security else None, threads_for(self.resources),
            0 < self.resources.get("GPU", 0) < 1,
            security.certificate if security else None)] = tuner_id
        self.placement.add(WorkerRecord(tuner_id, resources=dict(self.resources)))

    def check(self, stop_triggered: bool) -> None:
        """Records where workers landed; replaces those Ray reports dead.

        Raises:
            SearchFailedError: Every worker is gone, the search still needs
                them and the restart budget is spent.
        """
        import ray

        if self._wheres:
            ready, _ = ray.wait(list(self._wheres), num_returns=len(self._wheres), timeout=0)
            for reference in ready:
                tuner_id = self._wheres.pop(reference)
                try:
                    where = ray.get(reference)
                except ray.exceptions.RayError:
                    continue  # its run says why
                record = self.placement.records[tuner_id]
                record.node, record.host, record.pid = where["node"], where["host"], where["pid"]
                record.gpus = where["gpus"]
        if not self._runs:
            return
        ready, _ = ray.wait(list(self._runs), num_returns=len(self._runs), timeout=0)
        for reference in ready:
            tuner_id = self._runs.pop(reference)
            actor = self._actors.pop(tuner_id)
            try:
                ray.get(reference)
            except ray.exceptions.RayError as error:
                self._lose(tuner_id, actor, _reason(error), stop_triggered)
            else:
                self.placement.end(tuner_id, placement.LEFT)
                ray.kill(actor)
        if not self._runs and search_needs_workers(self.oracle, stop_triggered):
            raise SearchFailedError(f"every Ray worker was lost and none could be placed "
                                    f"again; the last: {self._last_error}")

    def _lose(self, tuner_id: str, actor: Any, reason: str, stop_triggered: bool) -> None:
        import ray

        self._last_error = reason
        print(f"evokt: Ray worker {tuner_id} lost: {reason}", file=sys.stderr)
        self.placement.end(tuner_id, placement.LOST, reason)
        # An unreachable actor may come back: it must not end its trial then.
        ray.kill(actor, no_restart=True)
        release_tuner(self.oracle, tuner_id)
        if search_needs_workers(self.oracle, stop_triggered) and self.restarts.allow():
            self._place()

    def stop(self, timeout: float = 60.0) -> None:
        """Waits up to `timeout` seconds for the workers to leave, then ends
        their actors (and Ray, where this process started it)."""
        import ray

        if self._runs:
            ray.wait(list(self._runs), num_returns=len(self._runs), timeout=timeout)
        for tuner_id, actor in self._actors.items():
            self.placement.end(tuner_id, placement.LEFT)
            ray.kill(actor, no_restart=True)
        self._actors.clear()
        self._runs.clear()
        if self._started_ray:
            ray.shutdown()


def _reason(error: Exception) -> str:
    """A Ray error in one line: the worker's own error, or how it died."""
    import ray

    if isinstance(error, ray.exceptions.RayTaskError):
        cause = error.cause if getattr(error, "cause", None) is not None else error
        return f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1]}"
    if isinstance(error, ray.exceptions.ActorUnavailableError):
        return "its node or process became unreachable"
    if isinstance(error, ray.exceptions.RayActorError):
        return "its process or node died"
    return str(error).strip().splitlines()[0]
