"""Deleting what the data directory holds: a record and its files together.

A `Removal` moves the folders of what is deleted aside (a rename, in the same
parent folder) inside the job store's transaction that deletes the records,
moves them back if that transaction fails, and removes them once it has
committed. A process killed in between leaves a `.tmp-*` folder, which
`evokt serve` removes when it starts (`evokt.service.layout.remove_leftovers`).
"""

from __future__ import annotations

import os
import shutil

from evokt.service.store import new_id

TRASH_PREFIX = ".tmp-deleted-"


def folder_bytes(path: str) -> int:
    """The bytes the files under `path` hold (0 if there is nothing)."""
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
                trash = os.path.join(os.path.dirname(path), f"{TRASH_PREFIX}{new_id()}")
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
