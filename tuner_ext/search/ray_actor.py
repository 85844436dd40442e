"""What runs inside a search's Ray actor: a worker in a directory of its own node.

Kept apart from `evokt.search.ray_workers` (the chief's side) and free of
TensorFlow and KerasTuner, so that an actor imports only what the worker it
runs needs (`evokt worker`'s loop imports TensorFlow itself).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from evokt.chief.auth import CA_ENV

# What `evokt worker` runs; an actor runs it with (chief, project_dir,
# tuner_id, threads, token=...).
WorkerMain = Callable[..., None]


def run_in_actor(worker_main: WorkerMain, chief: str, tuner_id: str, token: str | None,
                 threads: int, allow_growth: bool, ca: bytes | None) -> None:
    """An actor's work: `worker_main` in a new directory of the actor's node.

    Args:
        worker_main: The worker's loop (`evokt.search.worker.run_worker`).
        chief: The chief's `HOST:PORT`.
        tuner_id: The worker's id.
        token: The search's token for the chief's port.
        threads: TensorFlow's threads: the CPUs the actor holds.
        allow_growth: Whether the actor holds a fraction of a GPU, so
            TensorFlow takes its memory as it needs it.
        ca: The chief's TLS certificate to trust, if it serves TLS.
    """
    project_dir = tempfile.mkdtemp(prefix=f"evokt-{tuner_id}-")
    try:
        if allow_growth:
            os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        if ca is not None:
            path = os.path.join(project_dir, "chief-ca.pem")
            with open(path, "wb") as file:
                file.write(ca)
            os.environ[CA_ENV] = path
        worker_main(chief, project_dir, tuner_id, threads, token=token)
    finally:
        shutil.rmtree(project_dir, ignore_errors=True)


def where() -> dict[str, Any]:
    """Where the calling actor runs: its node, address, process and GPUs."""
    import ray

    return {"node": ray.get_runtime_context().get_node_id(),
            "host": ray.util.get_node_ip_address(), "pid": os.getpid(),
            "gpus": [str(gpu) for gpu in ray.get_gpu_ids()]}


class SearchWorker:
    """One worker of a search, in a Ray actor's process (`ray.remote` of it)."""

    def where(self) -> dict[str, Any]:
        return where()

    def run(self, *args: Any) -> None:
        run_in_actor(*args)
