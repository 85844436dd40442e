"""A worker of a distributed search: `evokt worker` / `python -m tuner_ext.search.worker`.

It waits for the search's `search.json` in the shared project directory and
for the chief's port, rebuilds the same tuner as the chief (same spec, same
hypermodel, same data) as a KerasTuner worker, and trains the trials the
chief hands it until the chief says STOPPED.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Callable

from hypermodels.errors import EvoktError
from tuner_ext.search.distributed import cluster_environment
from tuner_ext.search.distributed import parse_address
from tuner_ext.search.errors import SpecError
from tuner_ext.search.layout import SPEC_FILE
from tuner_ext.search.names import NAME_PATTERN
from tuner_ext.search.names import is_valid_name
from tuner_ext.search.spec import SearchSpec


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
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from tuner_ext.search.pipeline import build_tuner
    from tuner_ext.search.pipeline import fit_arguments

    spec = SearchSpec.load(project_dir)
    dataset = spec.load_data()
    tuner = build_tuner(spec, dataset, project_dir)
    args, kwargs = fit_arguments(spec, dataset)
    tuner.search(*args, **kwargs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chief", required=True, metavar="HOST:PORT")
    parser.add_argument("--project-dir", required=True, metavar="DIR")
    parser.add_argument("--tuner-id", required=True)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run_worker(args.chief, args.project_dir, args.tuner_id, args.threads)


if __name__ == "__main__":
    sys.exit(main())
