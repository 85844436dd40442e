"""A worker of a distributed search: what `evokt worker` runs.

It waits for the chief's port, fetches the search's `search.json` (and its
data file, when this machine lacks it) from the chief, rebuilds the same
tuner as the chief (same spec, same hypermodel, same data) as a KerasTuner
worker, and trains the trials the chief hands it until the chief says
STOPPED. No file system need be shared: trials' checkpoints travel through
the chief (`evokt.chief.files`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from evokt.chief.auth import TOKEN_ENV
from evokt.chief.auth import TOKEN_FILE
from evokt.chief.auth import read_token_file
from evokt.hypermodels.errors import EvoktError
from evokt.search.distributed import cluster_environment
from evokt.search.distributed import parse_address
from evokt.search.errors import SpecError
from evokt.search.layout import DATA_NAME
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
               wait: float = 300.0, token: str | None = None) -> None:
    """Trains trials for the chief at `chief` until the search ends.

    Args:
        chief: The chief's `HOST:PORT`.
        project_dir: This worker's directory: the chief's own (a shared file
            system) or one of its own, where it keeps the spec and data it
            fetches from the chief and the trials it trains.
        tuner_id: This worker's unique id.
        threads: TensorFlow threads for this worker; None for all cores.
        wait: Seconds to wait for the chief to appear.
        token: The search's token; None for `EVOKT_CHIEF_TOKEN`, else the
            `chief.token` in `project_dir` (a shared file system).

    Raises:
        SpecError: A malformed address or tuner id, or a chief that refused
            this worker's token.
        ChiefNotFoundError: The chief did not appear in time.
    """
    check_tuner_id(tuner_id)
    host, port = parse_address(chief)
    _wait_for(lambda: _port_open(host, port), f"the chief at {chief}", wait)
    os.environ.update(cluster_environment(tuner_id, host, port))
    shared_token = os.path.join(project_dir, TOKEN_FILE)
    if token is None and not os.environ.get(TOKEN_ENV) and os.path.exists(shared_token):
        # The chief's own project directory, shared: its token is there (made
        # before its port opened).
        token = read_token_file(shared_token)
    if token is not None:
        os.environ[TOKEN_ENV] = token
    spec = fetch_search(chief, project_dir)
    from evokt.threads import set_tensorflow_threads

    if threads:
        set_tensorflow_threads(threads)
    from evokt.search.pipeline import build_tuner
    from evokt.search.pipeline import fit_arguments

    dataset = spec.load_data()
    tuner = build_tuner(spec, dataset, project_dir)
    args, kwargs = fit_arguments(spec, dataset)
    tuner.search(*args, **kwargs)


def fetch_search(chief: str, project_dir: str) -> SearchSpec:
    """The chief's spec, saved in `project_dir`, with its data file fetched
    there too when this machine does not have it.

    Raises:
        SpecError: The chief refused this worker's token.
    """
    import grpc

    from evokt.chief.auth import chief_channel
    from evokt.chief.files import ChiefFilesClient

    files = ChiefFilesClient(chief_channel(chief))
    try:
        files.fetch(SPEC_FILE, os.path.join(project_dir, SPEC_FILE))
        spec = SearchSpec.load(project_dir)
        source = "csv" if spec.csv else "npz" if spec.npz else None
        if source and not os.path.exists(getattr(spec, source)):
            local = os.path.join(project_dir, "data", os.path.basename(getattr(spec, source)))
            files.fetch(DATA_NAME, local)
            spec = SearchSpec.from_dict({**spec.to_dict(), source: os.path.abspath(local)})
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:
            raise SpecError(f"the chief at {chief} refused this worker: {error.details()}") \
                from None
        raise
    return spec
