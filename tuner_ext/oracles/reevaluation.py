"""Which configuration, if any, to evaluate again: the re-evaluation policy.

Scores are noisy, so the configuration ranked first is often the luckiest
draw among the good ones. Before it can be recommended it is evaluated again
(a new trial with the same values, trained with another seed), and so is the
configuration that could most likely overtake it (the best optimistic
estimate, see `evokt.oracles.estimate`), until each has `max_evaluations` scores.
A configuration that a lucky score put first thus drops back if it was luck,
and one that an unlucky score hid gets another chance: the leader and its
strongest challenger, as in best-arm identification (LUCB, Kalyanakrishnan
et al. 2012).

Re-evaluations are kept within a share of the budget, start once a third of
it is spent (earlier leaders rarely last), and whatever is left of the share
is spent on the last trials, so that the configuration recommended at the
end has been checked.
"""

from __future__ import annotations

from collections.abc import Mapping

from keras_tuner.engine import trial as trial_module

from evokt.oracles.estimate import Configuration
from evokt.oracles.estimate import Ranking
from evokt.oracles.pareto import minimized

TrialStatus = trial_module.TrialStatus

# Configurations considered for re-evaluation: the leader and this many
# challengers.
CHALLENGERS = 1
# Share of the budget spent before the first re-evaluation.
START = 0.33


def to_reevaluate(
    ranking: Ranking,
    reevaluations: Mapping[str, str],
    running: set[str],
    started: int,
    max_trials: int | None,
    max_evaluations: int,
    share: float,
    direction: str,
    space_exhausted: bool = False,
) -> Configuration | None:
    """The configuration to evaluate again now, or None.

    Args:
        ranking: The scored configurations and their estimates.
        reevaluations: Re-evaluation trial id -> its configuration's first
            trial id, for every re-evaluation started so far.
        running: Ids of the trials that have not ended.
        started: How many trials have been started.
        max_trials: The budget, if any.
        max_evaluations: The most evaluations of one configuration.
        share: The largest share of the budget spent on re-evaluations.
        direction: "max" or "min", the objective's direction.
        space_exhausted: Whether no untried configuration is left; the
            allowance is then spent without waiting.
    """
    # A trial stopped early is no candidate: it was cut short for doing badly.
    candidates = [configuration for configuration in ranking.ranked
                  if configuration.trial.status == TrialStatus.COMPLETED]
    if max_evaluations < 2 or not candidates:
        return None
    budget = max_trials or started + 1
    allowance = int(share * budget) - len(reevaluations)
    if allowance <= 0:
        return None
    final = max_trials is not None and max_trials - started <= allowance
    if not (final or space_exhausted) and started < START * budget:
        return None
    # Re-evaluations still running count towards their configuration.
    pending: dict[str, int] = {}
    for reevaluation, original in reevaluations.items():
        if reevaluation in running:
            pending[original] = pending.get(original, 0) + 1
    leader = candidates[0]
    leader_estimate = minimized(ranking.estimates[leader.trial.trial_id], direction)
    challengers = sorted(
        candidates[1:],
        key=lambda configuration: minimized(ranking.optimistic[configuration.trial.trial_id],
                                            direction),
    )[:CHALLENGERS]
    for configuration in [leader] + challengers:
        original = configuration.trial.trial_id
        could_lead = minimized(ranking.optimistic[original], direction) < leader_estimate
        evaluations = len(configuration.scores) + pending.get(original, 0)
        if (configuration is leader or could_lead) and evaluations < max_evaluations:
            return configuration
    return None
