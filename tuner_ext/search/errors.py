"""The errors of running a search: bad options, nothing to export, a failed search,
a tracker that cannot log, a full disk."""

from __future__ import annotations

import errno

from evokt.hypermodels.errors import EvoktError


class SpecError(EvoktError):
    """A search's options are invalid; the message names the option."""


class NoCompletedTrialError(EvoktError):
    """The search has no completed trial to export."""


class SearchFailedError(EvoktError):
    """KerasTuner stopped the search: too many trials failed in a row."""


class TrackingError(EvoktError):
    """A tracker (TensorBoard, MLflow) cannot log the search: its package is
    missing or its store refuses; the message says which."""


class DiskFullError(EvoktError):
    """The disk a search writes to is full; the search stopped where it was.

    Its running trial is not recorded as failed: it runs again when the search
    is resumed with space to write.
    """


# What a full disk looks like once a library has wrapped the OSError
# (h5py and SQLite keep only its text).
_DISK_FULL_WORDS = ("No space left on device", "errno = 28", "database or disk is full",
                    "Disk quota exceeded")


def is_disk_full(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, says the disk is full.

    Args:
        error: Any exception.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(words in str(error) for words in _DISK_FULL_WORDS):
            return True
        error = error.__cause__ or error.__context__
    return False
