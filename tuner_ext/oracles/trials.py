"""What counts as a scored trial, and the best one: one definition for evokt."""

from __future__ import annotations

import math

import keras_tuner
from keras_tuner.engine import trial as trial_module


def has_score(trial: trial_module.Trial) -> bool:
    """Whether a trial completed with a usable (finite) score."""
    return (
        trial.status == trial_module.TrialStatus.COMPLETED
        and trial.score is not None
        and math.isfinite(trial.score)
    )


def best_scored_trial(oracle: keras_tuner.Oracle) -> trial_module.Trial | None:
    """The oracle's recommended trial, or None while no trial has a score.

    The recommendation is the oracle's own `get_best_trials`, so an oracle
    that ranks configurations by more than their best score (evokt's do)
    is followed by every reader: the export, the progress view and the
    service.
    """
    best = oracle.get_best_trials(1)
    return best[0] if best and has_score(best[0]) else None
