"""The errors of running a search: bad options, nothing to export, a failed search."""

from __future__ import annotations

from evokt.hypermodels.errors import EvoktError


class SpecError(EvoktError):
    """A search's options are invalid; the message names the option."""


class NoCompletedTrialError(EvoktError):
    """The search has no completed trial to export."""


class SearchFailedError(EvoktError):
    """KerasTuner stopped the search: too many trials failed in a row."""
