"""Estimates of each configuration's true score from its noisy evaluations.

Training is noisy: the same network scores differently with another seed, so
the trial with the best score is mostly the luckiest draw among the good ones
(the winner's curse). evokt's oracles evaluate promising configurations more
than once (re-evaluations), and rank configurations by an estimate from all
their evaluations instead of by a single score.

The estimate is the mean of a configuration's scores, made more cautious by
its standard error: `mean - penalty * noise / sqrt(count)` (plus, when lower
is better). The noise is the pooled standard deviation of the repeated
evaluations, so until some configurations have been evaluated again the
estimate is the plain score, and a configuration seen once must beat one
seen three times by about a standard error to rank above it.

Accuracy saturates on small data (many trials score 1.0); configurations whose
estimates tie are then ordered by their mean loss (`tie_break_metric`), a
continuous measure that still tells them apart.

Only searches of one objective are ranked here; a Pareto search compares
trials by dominance (`evokt.oracles.pareto`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from keras_tuner.engine import trial as trial_module

from evokt.oracles.pareto import metric_at_best_step
from evokt.oracles.pareto import minimized

# Standard errors a configuration's mean is lowered by (raised by, when lower
# is better) before configurations are compared.
DEFAULT_PENALTY = 1.0
# Degrees of freedom (repeated scores beyond each configuration's first) the
# noise is measured from before it counts: one wild re-evaluation alone must
# not make every configuration evaluated once look hopeless.
MIN_NOISE_DEGREES = 3
# Standard errors above its mean (below, when lower is better) that a
# configuration could still be: how re-evaluation picks a challenger.
OPTIMISM = 1.0


@dataclass(frozen=True)
class Configuration:
    """One configuration and every usable evaluation of it.

    Args:
        trial: The configuration's first trial; it stands for the
            configuration (its checkpoint, its values).
        scores: Every finite score of the configuration, the first trial's
            first and its re-evaluations' in the order they ended.
        losses: The tie-break metric of each evaluation that recorded it.
    """

    trial: trial_module.Trial
    scores: tuple[float, ...]
    losses: tuple[float, ...] = ()

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores)

    @property
    def mean_loss(self) -> float:
        """The mean tie-break loss; infinite when none was recorded."""
        return sum(self.losses) / len(self.losses) if self.losses else math.inf


def tie_break_metric(objective_name: str) -> str | None:
    """The loss that orders configurations whose estimates tie.

    `val_loss` for a validation objective (`val_accuracy`), `loss` for a
    training one; None when the objective is a loss already.

    Args:
        objective_name: The name of the search's objective.
    """
    if "loss" in objective_name:
        return None
    return "val_loss" if objective_name.startswith("val_") else "loss"


def group_by_configuration(
    trials: Iterable[trial_module.Trial],
    reevaluations: Mapping[str, str],
    tie_break: str | None = None,
) -> list[Configuration]:
    """Groups scored trials by configuration, in the order they ended.

    Args:
        trials: Trials with a usable score, in the order they ended.
        reevaluations: Maps a re-evaluation's trial id to the id of the
            configuration's first trial.
        tie_break: The metric collected as each configuration's `losses`
            (see `tie_break_metric`), or None.

    Returns:
        One `Configuration` per first trial among `trials`, ordered by when
        that first trial ended; re-evaluations of a configuration whose first
        trial is not among `trials` are left out.
    """
    scores: dict[str, list[float]] = {}
    losses: dict[str, list[float]] = {}
    firsts: dict[str, trial_module.Trial] = {}
    for trial in trials:
        original = reevaluations.get(trial.trial_id, trial.trial_id)
        if original == trial.trial_id:
            firsts[original] = trial
        scores.setdefault(original, []).append(trial.score)
        if tie_break is not None and trial.metrics.exists(tie_break):
            losses.setdefault(original, []).append(metric_at_best_step(trial, tie_break))
    return [Configuration(trial, tuple(scores[trial_id]), tuple(losses.get(trial_id, ())))
            for trial_id, trial in firsts.items()]


def noise_deviation(
    configurations: Iterable[Configuration], direction: str
) -> float | None:
    """The pooled standard deviation of repeated evaluations, if measured.

    Pooled over the better half of the configurations evaluated more than
    once: noise often grows with the loss (a run that diverges scores far
    from its other seeds), and what matters is the noise among the best.
    None until those give `MIN_NOISE_DEGREES` degrees of freedom.

    Args:
        configurations: The configurations and their scores.
        direction: "max" or "min", the objective's direction.
    """
    repeated = sorted(
        (configuration for configuration in configurations if len(configuration.scores) > 1),
        key=lambda configuration: minimized(configuration.mean, direction),
    )
    squares, degrees = 0.0, 0
    for configuration in repeated[: math.ceil(len(repeated) / 2)]:
        mean = configuration.mean
        squares += sum((score - mean) ** 2 for score in configuration.scores)
        degrees += len(configuration.scores) - 1
    return math.sqrt(squares / degrees) if degrees >= MIN_NOISE_DEGREES else None


def estimate_scores(
    configurations: list[Configuration],
    direction: str,
    penalty: float = DEFAULT_PENALTY,
) -> dict[str, float]:
    """Each configuration's estimated true score, by its first trial's id.

    Args:
        configurations: The configurations and their scores.
        direction: "max" or "min", the objective's direction.
        penalty: Standard errors by which the mean is made more cautious;
            a negative penalty gives an optimistic estimate. While the
            noise is not measured, a cautious estimate is the mean and an
            optimistic one is unbounded (anything could be the best).

    Returns:
        Trial id of each configuration's first trial -> estimate, in the
        objective's units.
    """
    noise = noise_deviation(configurations, direction)
    # Towards the worse side: up for a loss, down for an accuracy.
    sign = minimized(1.0, direction)
    if noise is None:
        noise = math.inf if penalty < 0 else 0.0
    return {
        configuration.trial.trial_id: configuration.mean
        + sign * penalty * noise / math.sqrt(len(configuration.scores))
        for configuration in configurations
    }


class Ranking(NamedTuple):
    """The scored configurations after `ended` trials ended.

    Args:
        ended: How many trials had ended (the ranking changes only then).
        configurations: In the order their first trials ended.
        ranked: The same, best estimate first.
        estimates: First trial id -> estimated score.
        optimistic: First trial id -> what its score could still be.
    """

    ended: int
    configurations: list[Configuration]
    ranked: list[Configuration]
    estimates: dict[str, float]
    optimistic: dict[str, float]


def rank(
    scored: Sequence[trial_module.Trial],
    reevaluations: Mapping[str, str],
    direction: str,
    ended: int,
    tie_break: str | None = None,
) -> Ranking:
    """Groups scored trials by configuration and ranks the configurations.

    Args:
        scored: Trials with a usable score, in the order they ended.
        reevaluations: Re-evaluation trial id -> its configuration's first
            trial id.
        direction: "max" or "min", the objective's direction.
        ended: How many trials had ended, failed ones included.
        tie_break: The loss that orders configurations of equal estimates,
            lowest first (see `tie_break_metric`); None for no tie-break.
    """
    configurations = group_by_configuration(scored, reevaluations, tie_break)
    estimates = estimate_scores(configurations, direction)
    ranked = sorted(
        configurations,
        key=lambda configuration: (minimized(estimates[configuration.trial.trial_id], direction),
                                   configuration.mean_loss),
    )
    optimistic = estimate_scores(configurations, direction, penalty=-OPTIMISM)
    return Ranking(ended, configurations, ranked, estimates, optimistic)
