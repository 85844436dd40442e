"""The files a distributed search's workers need, through the chief.

A worker need not see the chief's disk. Beside KerasTuner's oracle, the
chief's gRPC server serves `evokt.ChiefFiles`:

- `Fetch`: the files the chief names (the search's spec, `search.json`, and
  its data file when it is a CSV or npz file rather than a bundled dataset)
  and a trial's checkpoint and build config (`trial_ID/checkpoint.weights.h5`,
  `trial_ID/build_config.json`), for a worker that continues another's trial
  (a Hyperband promotion);
- `Store`: a trial's checkpoint and build config, which a worker sends before
  it ends the trial, so the chief's project directory holds every trial's
  model, as with a shared file system: the export, `keep_checkpoints` and
  promotions work there unchanged.

Files travel in chunks of 1 MiB, so a model of any size fits gRPC's message
limit; a stored file is renamed into place whole. The same token guards these
calls as the oracle's (`evokt.chief.auth`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator

import grpc

SERVICE = "evokt.ChiefFiles"
CHUNK_BYTES = 1024 * 1024
_TRIAL_FILE = re.compile(
    r"^trial_[A-Za-z0-9_-]{1,64}/(checkpoint\.weights\.h5|build_config\.json)$")


def trial_files(trial_id: str) -> list[str]:
    """A trial's files that travel, relative to a project directory."""
    return [f"trial_{trial_id}/checkpoint.weights.h5", f"trial_{trial_id}/build_config.json"]


class ChiefFiles:
    """The chief's side: serves and stores files of its project directory.

    Args:
        project_dir: The chief's project directory, where trials' files are
            fetched from and stored.
        served: Other files workers may fetch (never store), by the name
            they ask for: {"search.json": path, ...}.
    """

    def __init__(self, project_dir: str, served: dict[str, str]):
        self.project_dir = project_dir
        self.served = dict(served)

    def handler(self) -> grpc.GenericRpcHandler:
        """The gRPC handler to add to the chief's server."""
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Fetch": grpc.unary_stream_rpc_method_handler(self._fetch),
            "Store": grpc.stream_unary_rpc_method_handler(self._store),
        })

    def _local_path(self, name: str, context: grpc.ServicerContext, storing: bool) -> str:
        if name in self.served and not storing:
            return self.served[name]
        if _TRIAL_FILE.match(name):
            return os.path.join(self.project_dir, name)
        context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{name!r} is not served")
        raise AssertionError("unreachable")  # abort raises

    def _fetch(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        path = self._local_path(request.decode("utf-8", "replace"), context, storing=False)
        try:
            file = open(path, "rb")
        except FileNotFoundError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no {request.decode()!r} at the chief")
        with file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk

    def _store(self, chunks: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        name = next(chunks, b"").decode("utf-8", "replace")
        path = self._local_path(name, context, storing=True)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                for chunk in chunks:
                    file.write(chunk)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return b""


class ChiefFilesClient:
    """A worker's side: fetches and stores files at the chief.

    Args:
        channel: A channel to the chief (see `evokt.chief.auth.chief_channel`).
    """

    def __init__(self, channel: grpc.Channel):
        self._fetch = channel.unary_stream(f"/{SERVICE}/Fetch")
        self._store = channel.stream_unary(f"/{SERVICE}/Store")

    def fetch(self, name: str, destination: str, timeout: float = 600.0) -> bool:
        """Copies the chief's file `name` to `destination`, renamed into place whole.

        Returns:
            Whether the chief had it.
        """
        os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            dir=os.path.dirname(os.path.abspath(destination)), prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                for chunk in self._fetch(name.encode(), timeout=timeout, wait_for_ready=True):
                    file.write(chunk)
            os.replace(temporary, destination)
            return True
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def store(self, source: str, name: str, timeout: float = 600.0) -> None:
        """Sends the file `source` to the chief as `name`."""

        def chunks() -> Iterator[bytes]:
            yield name.encode()
            with open(source, "rb") as file:
                while chunk := file.read(CHUNK_BYTES):
                    yield chunk

        self._store(chunks(), timeout=timeout, wait_for_ready=True)
