"""The root of evokt's own errors.

Every error evokt raises on purpose (bad data, bad search options, a search
that cannot continue) derives from `EvoktError`, so the command line and the
service catch evokt's errors, and only those, to turn them into one line for a
person. It lives in the lowest floor, `hypermodels`, which every other part of
evokt may import.
"""

from __future__ import annotations


class EvoktError(Exception):
    """An error evokt reports to the user in one line; the message says what."""


class DataError(EvoktError):
    """The data cannot be used; the message names the problem."""
