"""Deleting what the data directory holds: a record and its files together.

A `Removal` moves the folders of what is deleted aside (a rename, in the same
parent folder, to a name that keeps the original's) inside the job store's
transaction that deletes the records, moves them back if that transaction
fails, and removes them once it has committed. A process killed in between
leaves the folder aside: `finish_deletions`, when `evokt serve` starts, puts it
back if its record is still there (the transaction did not commit) and
removes it if not.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil

from evokt.service.layout import STAGING_PREFIX
from evokt.service.layout import DataLayout
from evokt.service.store import JobStore
from evokt.service.store import new_id

TRASH_PREFIX = f"{STAGING_PREFIX}deleted-"


def folder_bytes(path: str) -> int:
    """The bytes the files under `path` hold (0 if there is nothing).

    Args:
        path: A folder.
    """
    total = 0
    for parent, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                continue
    return total


class Removal:
    """Folders to remove with the records a deletion removes; a context manager.

    Pass `move_aside` to the job store's deletion, which calls it inside its
    transaction. Leaving the `with` block removes the moved folders (and sets
    `freed_bytes`), or, when the block raised, moves them back.

    Args:
        paths: The folders; those that do not exist are skipped.
    """

    def __init__(self, paths: list[str]):
        self.paths = paths
        self.moved: list[tuple[str, str]] = []
        self.freed_bytes = 0

    def move_aside(self) -> None:
        """Renames each folder beside itself."""
        for path in self.paths:
            if os.path.isdir(path):
                trash = os.path.join(os.path.dirname(path),
                                     f"{TRASH_PREFIX}{new_id()}-{os.path.basename(path)}")
                os.rename(path, trash)
                self.moved.append((path, trash))

    def __enter__(self) -> Removal:
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is not None:
            for path, trash in reversed(self.moved):
                os.rename(trash, path)
            return
        for _, trash in self.moved:
            self.freed_bytes += folder_bytes(trash)
            shutil.rmtree(trash, ignore_errors=True)


def finish_deletions(layout: DataLayout, store: JobStore) -> None:
    """Ends the deletions a killed process left half done; before any worker starts.

    Args:
        layout: The data directory's layout.
        store: Its job store.
    """
    models = os.path.join(layout.root, "models")
    names = sorted(os.listdir(models)) if os.path.isdir(models) else []
    parents = {
        os.path.join(layout.root, "datasets"): lambda name: store.dataset(name) is not None,
        os.path.join(layout.root, "searches"): lambda name: store.search(name) is not None,
        **{os.path.join(models, model): functools.partial(_version_exists, store, model)
           for model in names},
    }
    for parent, exists in parents.items():
        for trash in glob.glob(os.path.join(glob.escape(parent), f"{TRASH_PREFIX}*")):
            # TRASH_PREFIX, a 32-character id, "-", then the original's name.
            original = os.path.basename(trash)[len(TRASH_PREFIX) + 33:]
            target = os.path.join(parent, original)
            if original and exists(original) and not os.path.exists(target):
                os.rename(trash, target)
            else:
                shutil.rmtree(trash, ignore_errors=True)


def _version_exists(store: JobStore, name: str, version: str) -> bool:
    return version.isdigit() and store.model_version(name, int(version)) is not None
