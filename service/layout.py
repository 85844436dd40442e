"""Where things live in the service's data directory.

Every path is built from names and ids that `evokt.service.validation` has checked
against `[A-Za-z0-9_-]{1,64}`, so no request can reach outside the directory.
"""

from __future__ import annotations

import glob
import os
import shutil

TOKEN_FILE = "api-token"
# Held by the running `evokt serve`, and by the search runner: one of each per directory.
SERVE_LOCK_FILE = "serve.lock"
RUNNER_LOCK_FILE = "runner.lock"
# The name prefix of a folder being written or deleted: an upload or a model version is
# staged beside its place and renamed into it once whole, and a deletion renames what it
# deletes aside before removing it.
STAGING_PREFIX = ".tmp-"
# The folders that hold staged folders, as glob patterns under the data directory.
_STAGING_PARENTS = ("datasets", "searches", "models", os.path.join("models", "*"))


class DataLayout:
    """Paths inside one data directory.

    Args:
        root: The data directory.
    """

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def create(self) -> None:
        """Creates the data directory, readable by its owner only."""
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.chmod(self.root, 0o700)

    @property
    def token_file(self) -> str:
        return os.path.join(self.root, TOKEN_FILE)

    @property
    def serve_lock(self) -> str:
        return os.path.join(self.root, SERVE_LOCK_FILE)

    @property
    def runner_lock(self) -> str:
        return os.path.join(self.root, RUNNER_LOCK_FILE)

    @property
    def event_stream_slots(self) -> str:
        """The folder of the files event streams lock, one per stream the service holds."""
        return os.path.join(self.root, "event-streams")

    def dataset_dir(self, dataset_id: str) -> str:
        return os.path.join(self.root, "datasets", dataset_id)

    def search_folder(self, search_id: str) -> str:
        """Everything of one search: its project, export, log and request."""
        return os.path.join(self.root, "searches", search_id)

    def search_dir(self, search_id: str) -> str:
        """The search's KerasTuner project directory."""
        return os.path.join(self.search_folder(search_id), "project")

    def export_dir(self, search_id: str) -> str:
        """Where the search process writes the best model before registering it."""
        return os.path.join(self.search_folder(search_id), "export")

    def log_file(self, search_id: str) -> str:
        return os.path.join(self.search_folder(search_id), "search.log")

    def model_dir(self, name: str, version: int) -> str:
        return os.path.join(self.root, "models", name, str(version))


def remove_leftovers(layout: DataLayout) -> list[str]:
    """Removes the staged folders of uploads, registrations and deletions that a
    killed process left behind.

    Only safe while no other process writes to the data directory, since it
    cannot tell a leftover from a folder being staged now: `evokt serve` calls it
    once it holds the directory's lock, before gunicorn and the runner start.

    Args:
        layout: The data directory's layout.

    Returns:
        The folders removed.
    """
    removed = []
    for parent in _STAGING_PARENTS:
        for path in sorted(glob.glob(os.path.join(glob.escape(layout.root), parent,
                                                  f"{STAGING_PREFIX}*"))):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed
