"""The defaults of evokt's oracles and the metrics they measure, free of KerasTuner.

Kept apart from the oracles so that a search's options and objectives can be
checked (by the CLI and by the service, at request time) without importing
TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable

# The metrics evokt measures of every trial's model (`evokt.oracles.measures`),
# and the direction each is optimised in.
MEASURED_METRICS = {"params": "min", "latency_ms": "min", "model_bytes": "min"}

# Trials of a search when none are given (KerasTuner's own default); a
# genetic-hyperband search's epoch budget is by default what this many full
# trainings cost, as `evokt search` gives it (`max_trials * epochs`).
DEFAULT_MAX_TRIALS = 10

# Numerical mutation step in `value_to_prob` space: mostly a neighbouring value.
DEFAULT_MUTATION_SCALE = 0.15

# Candidates a model of the completed trials screens per proposal (Optuna's TPE
# also scores 24).
DEFAULT_CANDIDATES = 24
# The share of those candidates the genetic oracle draws from the model rather
# than breeds: on NAS-Bench-201 children of the population alone got stuck in
# one basin in about a third of the searches, and 0.25 or 0.75 did no better
# (docs/benchmarks.md).
DEFAULT_MODEL_DRAW_SHARE = 0.5
# Evaluations of one configuration at most: its first and two re-evaluations.
DEFAULT_MAX_EVALUATIONS = 3
# The largest share of the budget spent on re-evaluations: chosen with the
# tournament below on 60 seeds of the seven tabular benchmarks (seed sets 0 and
# 1000, `benchmarks/sweep_genetic.py`), judged on a third set
# (docs/benchmarks.md).
DEFAULT_REEVALUATION_SHARE = 0.15


def default_population_size(max_trials: int | None) -> int:
    """A third of the budget, between 4 and 100 (33 for 100 trials).

    Chosen on NAS-Bench-201 and HPOLib (docs/benchmarks.md): at 100 trials a
    population of 20 to 35 did best, and a third leaves two thirds of the
    trials to evolution; 100 is Real et al.'s population for budgets of
    thousands of trials.
    """
    if max_trials is None:
        return 33
    return max(4, min(100, max_trials // 3))


def default_sample_size(population_size: int, num_objectives: int = 1) -> int:
    """The whole population with one objective: the tournament picks its best.

    With a density ratio model screening the children and the aging
    population forgetting old leaders, the greediest tournament did best at
    budgets of a hundred trials: on the seven tabular benchmarks (two sets
    of 30 seeds) its median was no worse than Optuna's TPE in 12 of 14
    (table, seed set) cells, against 11 for three quarters of the
    population (docs/benchmarks.md). A second tournament would pick the
    best again, so crossover runs only when configurations tie for it (and
    mixes those), or with a smaller `sample_size`. A Pareto search keeps
    three quarters: its tournament by front and crowding would otherwise
    always pick the same extreme point of the front.

    Args:
        population_size: The population's size.
        num_objectives: How many objectives the search has.
    """
    if num_objectives > 1:
        return three_quarters_sample(population_size)
    return population_size


def tournament_sizes(population_size: int, sample_size: int | None,
                     default_sample: Callable[[int], int]) -> tuple[int, int]:
    """A population's size and its tournament's, the one check of both.

    Args:
        population_size: Integer >= 2, the population's size.
        sample_size: The tournament's size, from 1 to `population_size`;
            None for `default_sample(population_size)`.
        default_sample: The default tournament of a population's size.

    Raises:
        ValueError: Either size is out of range; the message names it.
    """
    if isinstance(population_size, bool) or not isinstance(population_size, int) \
            or population_size < 2:
        raise ValueError(f"`population_size` must be an integer of at least 2, "
                         f"got {population_size!r}.")
    if sample_size is None:
        sample_size = default_sample(population_size)
    if not 1 <= sample_size <= population_size:
        raise ValueError(f"`sample_size` must be between 1 and `population_size` "
                         f"({population_size}), got {sample_size}.")
    return population_size, sample_size


def three_quarters_sample(population_size: int) -> int:
    """Three quarters of the population, at least 2: genetic-hyperband's
    tournament, a Pareto search's, and the genetic oracle's before the
    defaults above.

    Args:
        population_size: The population's size.
    """
    return max(2, (3 * population_size) // 4)


# Crossover with a second tournament winner, half of the time (with the
# default tournament only configurations whose estimates tie mix; see above).
DEFAULT_CROSSOVER_PROB = 0.5


def default_random_starts(max_trials: int | None) -> int:
    """A tenth of the budget, between 2 and 10."""
    if max_trials is None:
        return 10
    return max(2, min(10, max_trials // 10))


# The most folds of a cross-validated search (`folds`).
MAX_FOLDS = 10

# The most hyperparameters one greedy step changes.
DEFAULT_MAX_MUTATIONS = 2

# Genetic-hyperband's population: recent completed trials of a rung that breed.
GENETIC_HYPERBAND_POPULATION = 10
# Ratio of two rungs' epochs (KerasTuner's Hyperband's default).
DEFAULT_FACTOR = 3
# Share of genetic-hyperband's new networks drawn at random once evolution started.
DEFAULT_RANDOM_FRACTION = 0.2


# The rules that stop hopeless trials early (`evokt.oracles.early_stopping`), by name.
EARLY_STOPPING_RULES = ("median",)
