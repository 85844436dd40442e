"""Several objectives at once: Pareto ranks, crowding distances, the front and its knee.

KerasTuner turns a list of objectives into one `MultiObjective` whose value
is their sum (minimised ones added, maximised ones subtracted, unweighted), so
"accuracy against parameter count" becomes a meaningless number. Here a
trial's objectives stay a vector, compared as NSGA-II does (Deb et al. 2002):
one trial dominates another when it is no worse in every objective and better
in one; the non-dominated trials form the first front, and within a front the
crowding distance prefers trials in sparse regions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # The functions only read attributes: the service uses them without TF.
    import keras_tuner
    from keras_tuner.engine import trial as trial_module

Vector = tuple[float, ...]


def minimized(value: float, direction: str) -> float:
    """`value` as a value to minimise: negated for an objective to maximise.

    Args:
        value: An objective's value.
        direction: "min" or "max", the objective's direction.
    """
    return -value if direction == "max" else value


def objectives_of(objective: keras_tuner.Objective) -> list[keras_tuner.Objective]:
    """The single objectives a (possibly multi-) objective is made of."""
    return list(getattr(objective, "objectives", [objective]))


def is_multi_objective(objective: keras_tuner.Objective) -> bool:
    return len(objectives_of(objective)) > 1


def metric_at_best_step(trial: trial_module.Trial, name: str) -> float | None:
    """A metric's value at the trial's best step (the epoch whose model
    KerasTuner kept), else its last value; None when not recorded."""
    if not trial.metrics.exists(name):
        return None
    if trial.best_step is not None:
        for observation in trial.metrics.get_history(name):
            if observation.step == trial.best_step:
                return float(observation.value[0])
    return trial.metrics.get_last_value(name)


def objective_value(trial: trial_module.Trial, objective: keras_tuner.Objective) -> float | None:
    """One objective's value for a trial, as `metric_at_best_step` reads it."""
    return metric_at_best_step(trial, objective.name)


def objective_vector(
    trial: trial_module.Trial, objectives: Sequence[keras_tuner.Objective]
) -> Vector | None:
    """A trial's objectives as values to minimise (maximised ones negated), or
    None when one is missing or not finite."""
    vector = []
    for objective in objectives:
        value = objective_value(trial, objective)
        if value is None or not math.isfinite(value):
            return None
        vector.append(minimized(value, objective.direction))
    return tuple(vector)


def dominates(first: Vector, second: Vector) -> bool:
    """Whether `first` is no worse than `second` everywhere and better somewhere."""
    return all(a <= b for a, b in zip(first, second, strict=True)) and first != second


def non_dominated_fronts(vectors: Sequence[Vector]) -> list[list[int]]:
    """Indices of `vectors`, front by front: the first front dominates the rest.

    Deb et al.'s fast non-dominated sort, O(M N^2) for N vectors of M
    objectives (a population of a hundred costs about a millisecond).
    """
    dominated_by: list[list[int]] = [[] for _ in vectors]
    domination_count = [0] * len(vectors)
    for i, first in enumerate(vectors):
        for j in range(i + 1, len(vectors)):
            if dominates(first, vectors[j]):
                dominated_by[i].append(j)
                domination_count[j] += 1
            elif dominates(vectors[j], first):
                dominated_by[j].append(i)
                domination_count[i] += 1
    fronts = []
    current = [i for i, count in enumerate(domination_count) if count == 0]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in dominated_by[i]:
                domination_count[j] -= 1
                if domination_count[j] == 0:
                    following.append(j)
        current = following
    return fronts


def crowding_distances(vectors: Sequence[Vector], front: Sequence[int]) -> dict[int, float]:
    """Each front member's crowding distance: the perimeter of the box its
    neighbours span, per objective normalised by the front's range; the
    extremes get infinity, so they are always kept."""
    distances = {index: 0.0 for index in front}
    for axis in range(len(vectors[front[0]]) if front else 0):
        ordered = sorted(front, key=lambda index: vectors[index][axis])
        low, high = vectors[ordered[0]][axis], vectors[ordered[-1]][axis]
        distances[ordered[0]] = distances[ordered[-1]] = math.inf
        if high == low:
            continue
        for before, index, after in zip(ordered, ordered[1:], ordered[2:], strict=False):
            distances[index] += (vectors[after][axis] - vectors[before][axis]) / (high - low)
    return distances


def rank_and_crowding(vectors: Sequence[Vector]) -> list[tuple[int, float]]:
    """(front number, crowding distance) of each vector; smaller rank and larger
    distance are better."""
    ranking: list[tuple[int, float]] = [(0, 0.0)] * len(vectors)
    for rank, front in enumerate(non_dominated_fronts(vectors)):
        for index, distance in crowding_distances(vectors, front).items():
            ranking[index] = (rank, distance)
    return ranking


def trial_fronts(
    trials: Sequence[trial_module.Trial], objectives: Sequence[keras_tuner.Objective]
) -> list[list[trial_module.Trial]]:
    """Trials with every objective, front by front, each front ordered by the
    first objective (best first); trials missing an objective are left out."""
    scored = [(trial, objective_vector(trial, objectives)) for trial in trials]
    scored = [(trial, vector) for trial, vector in scored if vector is not None]
    fronts = non_dominated_fronts([vector for _, vector in scored])
    return [[trial for trial, _ in sorted((scored[index] for index in front),
                                          key=lambda pair: pair[1])] for front in fronts]


def pareto_front(
    trials: Sequence[trial_module.Trial], objectives: Sequence[keras_tuner.Objective]
) -> list[trial_module.Trial]:
    """The non-dominated trials, ordered by the first objective (best first)."""
    fronts = trial_fronts(trials, objectives)
    return fronts[0] if fronts else []


def knee_point(
    front: Sequence[trial_module.Trial], objectives: Sequence[keras_tuner.Objective]
) -> trial_module.Trial:
    """The front's knee: with each objective normalised to [0, 1] over the
    front (so no objective's units decide), the trial farthest below the
    plane where the normalised objectives sum to 1, the line through the two
    extremes of a two-objective front. A front of one or two is its first."""
    vectors = [objective_vector(trial, objectives) for trial in front]
    if len(front) <= 2:
        return front[0]
    lows = [min(v[axis] for v in vectors) for axis in range(len(objectives))]
    spans = [max(v[axis] for v in vectors) - lows[axis] or 1.0 for axis in range(len(objectives))]
    normalised = [[(v[axis] - lows[axis]) / spans[axis] for axis in range(len(objectives))]
                  for v in vectors]
    # Distance below the hyperplane sum(x) = 1 through the extremes (0, 1) and (1, 0).
    return front[max(range(len(front)), key=lambda i: 1.0 - sum(normalised[i]))]
