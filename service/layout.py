"""Where things live in the service's data directory.

Every path is built from names and ids that `evokt.service.validation` has checked
against `[A-Za-z0-9_-]{1,64}`, so no request can reach outside the directory.
"""

from __future__ import annotations

import os

TOKEN_FILE = "api-token"
# Held by the running `evokt serve`, and by the search runner: one of each per directory.
SERVE_LOCK_FILE = "serve.lock"
RUNNER_LOCK_FILE = "runner.lock"


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

    def dataset_dir(self, dataset_id: str) -> str:
        return os.path.join(self.root, "datasets", dataset_id)

    def search_dir(self, search_id: str) -> str:
        """The search's KerasTuner project directory."""
        return os.path.join(self.root, "searches", search_id, "project")

    def export_dir(self, search_id: str) -> str:
        """Where the search process writes the best model before registering it."""
        return os.path.join(self.root, "searches", search_id, "export")

    def log_file(self, search_id: str) -> str:
        return os.path.join(self.root, "searches", search_id, "search.log")

    def model_dir(self, name: str, version: int) -> str:
        return os.path.join(self.root, "models", name, str(version))
