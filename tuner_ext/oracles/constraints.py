"""Constraints on metrics: upper bounds a trial must keep to be recommended.

Free of KerasTuner, so the service checks stored trials with the same rule
as the oracles check theirs (`evokt.oracles.trials.violations`).
"""

from __future__ import annotations

from collections.abc import Mapping

# metric -> the largest value a trial may have; None or empty for no constraint.
Constraints = Mapping[str, float] | None


def broken_constraints(metrics: Mapping[str, float | None], constraints: Constraints) -> list[str]:
    """The constraints a trial's metrics break, in words ("params 120000 > 50000");
    a metric it did not record breaks its constraint.

    Args:
        metrics: The trial's metrics by name (their last values).
        constraints: The search's upper bounds.
    """
    broken = []
    for metric, limit in (constraints or {}).items():
        value = metrics.get(metric)
        if value is None:
            broken.append(f"{metric} not recorded")
        elif value > limit:
            broken.append(f"{metric} {value:g} > {limit:g}")
    return broken
