"""Exclusive locks on a data directory, held for a process's lifetime.

A lock is `flock` on a file in the data directory: the kernel releases it
when its holder exits, however it exits (`kill -9` included), so a lock is
never left stale. The file records the holder's pid for the message of the
process that finds it taken.
"""

from __future__ import annotations

import fcntl
import os
from typing import IO

from evokt.hypermodels.errors import EvoktError


class LockedError(EvoktError):
    """Another process holds the lock; the message names it."""


def hold_lock(path: str, what: str) -> IO[str]:
    """Takes the lock at `path` for this process, or fails at once.

    Args:
        path: The lock file.
        what: What the lock guards, for the message ("the data directory").

    Returns:
        The open lock file; the lock lasts while it stays open.

    Raises:
        LockedError: Another process holds it.
    """
    file = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held open on purpose)
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        holder = file.read().strip() or "another process"
        file.close()
        raise LockedError(f"{what} is in use by process {holder}; stop it first") from None
    file.seek(0)
    file.truncate()
    file.write(str(os.getpid()))
    file.flush()
    return file
