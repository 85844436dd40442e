"""The data directory's free space, and the floor the service keeps above a full disk.

A full disk must not take the service down: below `MIN_FREE_BYTES` free, the
writes that grow the data directory (uploads, new searches) are refused with
507 before they start, searches pause between trials, and readiness says why,
while predictions and reads, which write nothing, go on.
"""

from __future__ import annotations

import shutil
import sqlite3

from evokt.search.errors import is_disk_full

# The exit status of a search process that paused for disk space (BSD's EX_TEMPFAIL).
EXIT_PAUSED = 75
# Free bytes under which a failed write is taken for a full disk, whatever it
# said: SQLite reports a WAL it could not grow as "disk I/O error".
NEARLY_FULL = 1024 * 1024


def free_bytes(path: str) -> int:
    """Bytes free for this process on the disk that holds `path`.

    Args:
        path: A folder on the disk.
    """
    return shutil.disk_usage(path).free


def low_space(path: str, floor: int, incoming: int = 0) -> str | None:
    """Why `path`'s disk cannot take `incoming` more bytes above `floor`, or None.

    Args:
        path: A folder on the disk.
        floor: Bytes that must stay free.
        incoming: Bytes about to be written.
    """
    free = free_bytes(path)
    if free - incoming >= floor:
        return None
    needs = f" for {incoming:,} more bytes" if incoming else ""
    return (f"the data directory's disk has {free:,} bytes free{needs}; the service keeps "
            f"{floor:,} free (EVOKT_MIN_FREE_BYTES): delete datasets, searches or model "
            "versions, or free space on the disk")


def require_space(path: str, floor: int, incoming: int = 0) -> None:
    """A 507 unless `path`'s disk has `incoming` bytes to spare above `floor`.

    Args:
        path: A folder on the disk.
        floor: Bytes that must stay free.
        incoming: Bytes about to be written.
    """
    from evokt.service.errors import ApiError

    reason = low_space(path, floor, incoming)
    if reason is not None:
        raise ApiError(507, reason)


def failed_for_space(error: BaseException, path: str) -> bool:
    """Whether a failed write to `path`'s disk failed because the disk is full.

    Args:
        error: What the write raised.
        path: A folder on the disk written to.
    """
    if is_disk_full(error):
        return True
    return isinstance(error, OSError | sqlite3.Error) and free_bytes(path) < NEARLY_FULL
