"""A worker of a distributed search: what `evokt worker` runs.

It waits for the search's `search.json` in the shared project directory and
for the chief's port, rebuilds the same tuner as the chief (same spec, same
hypermodel, same data) as a KerasTuner worker, and trains the trials the
chief hands it until the chief says STOPPED.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from evokt.hypermodels.errors import EvoktError
from evokt.search.distributed import cluster_environment
from evokt.search.distributed import parse_address
from evokt.search.errors import SpecError
from evokt.search.layout import SPEC_FILE
from evokt.search.names import NAME_PATTERN
from evokt.search.names import is_valid_name
from evokt.search.spec import SearchSpec


class ChiefNotFoundError(EvoktError):
    """The chief or its search did not appear in time."""


def _wait_for(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise ChiefNotFoundError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.2)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def check_tuner_id(tuner_id: str) -> None:
    """Refuses ids KerasTuner would misread.

    A worker's state file is `<tuner_id>.json` in the project directory, so
    `oracle` or `search` would overwrite the chief's files; and KerasTuner
    takes any id containing "chief" for the chief.

    Raises:
        SpecError: The id cannot be used.
    """
    if not is_valid_name(tuner_id):
        raise SpecError(f"--tuner-id must match {NAME_PATTERN}, got {tuner_id!r}")
    if "chief" in tuner_id or tuner_id in ("oracle", "search", "tuner0"):
        raise SpecError(f"--tuner-id {tuner_id!r} is reserved; choose another")


def run_worker(chief: str, project_dir: str, tuner_id: str, threads: int | None = None,
               wait: float = 300.0) -> None:
    """Trains trials for the chief at `chief` until the search ends.

    Args:
        chief: The chief's `HOST:PORT`.
        project_dir: The search's project directory, shared with the chief.
        tuner_id: This worker's unique id.
        threads: TensorFlow threads for this worker; None for all cores.
        wait: Seconds to wait for the spec and the chief to appear.

    Raises:
        SpecError: A malformed address or tuner id.
        ChiefNotFoundError: The spec or the chief did not appear in time.
    """
    check_tuner_id(tuner_id)
    host, port = parse_address(chief)
    spec_path = os.path.join(project_dir, SPEC_FILE)
    _wait_for(lambda: os.path.exists(spec_path), f"{spec_path}", wait)
    _wait_for(lambda: _port_open(host, port), f"the chief at {chief}", wait)
    os.environ.update(cluster_environment(tuner_id, host, port))
    from evokt.threads import set_tensorflow_threads

    if threads:
        set_tensorflow_threads(threads)
    from evokt.search.pipeline import build_tuner
    from evokt.search.pipeline import fit_arguments

    spec = SearchSpec.load(project_dir)
    dataset = spec.load_data()
    tuner = build_tuner(spec, dataset, project_dir)
    args, kwargs = fit_arguments(spec, dataset)
    tuner.search(*args, **kwargs)
