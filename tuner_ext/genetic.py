"""Aging ("regularized") evolution: `GeneticOracle` and `GeneticSearch`.

After Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search": the population is the most recent `population_size`
completed trials, so a model that was lucky once ages out instead of
dominating forever. Each child is a mutation of the winner of a tournament of
`sample_size` members.
"""

from __future__ import annotations

import random
from typing import Any, Optional, Sequence

import keras_tuner

from tuner_ext import crossover
from tuner_ext.evolution import DEFAULT_MUTATION_SCALE
from tuner_ext.evolution import EvolutionaryOracle
from tuner_ext.tuner import EvolutionarySearch
from tuner_ext.space import Values


def default_population_size(max_trials: Optional[int]) -> int:
    """A third of the budget, between 4 and 100 (33 for 100 trials).

    Chosen on NAS-Bench-201 and HPOLib (docs/benchmarks.md): at 100 trials a
    population of 20 to 35 did best, and a third leaves two thirds of the
    trials to evolution; 100 is Real et al.'s population for budgets of
    thousands of trials.
    """
    if max_trials is None:
        return 33
    return max(4, min(100, max_trials // 3))


def default_sample_size(population_size: int) -> int:
    """Three quarters of the population, at least 2 (24 of 33).

    Greedier than Real et al.'s quarter: with budgets of a hundred trials,
    tournaments of a half to all of the population gave half the regret of a
    quarter (docs/benchmarks.md).
    """
    return max(2, (3 * population_size) // 4)


# Crossover with a second tournament winner, half of the time (see above).
DEFAULT_CROSSOVER_PROB = 0.5


class GeneticOracle(EvolutionaryOracle):
    """Aging evolution over the structure and training hyperparameters.

    Until `population_size` trials have completed, proposals are the
    `initial_hps`, then random. After that each child is bred from the last
    `population_size` completed trials: a tournament of `sample_size` random
    members picks the best by the objective, which is mutated (with
    probability `crossover_prob` it is first crossed with the winner of a
    second tournament). Mutation changes only active hyperparameters, in each
    one's own terms (see `tuner_ext.mutation`). No configuration is proposed
    twice. There is no generation barrier: a child is bred whenever a worker
    asks, so any number of trials can run at once.

    Args:
        objective: A string, `keras_tuner.Objective` instance, or a list of
            them, as for `keras_tuner.Oracle`.
        max_trials: Integer, the number of trials to run. Defaults to 10.
        population_size: Integer, how many of the most recent completed trials
            form the population. Defaults to `max_trials // 3`, clipped to
            [4, 100].
        sample_size: Integer, tournament size, from 1 to `population_size`.
            Larger is greedier. Defaults to three quarters of
            `population_size`, at least 2.
        crossover_prob: Float in [0, 1], probability of crossing the
            tournament winner with a second winner before mutating it.
            Defaults to 0.5.
        mutation_scale: Float > 0, standard deviation of a numerical
            mutation in `value_to_prob` space (0.15: mostly a neighbouring
            value). Defaults to 0.15.
        initial_hps: Optional list of dicts, configurations evaluated first;
            they join the population like any other trial. Defaults to None.
        seed: Optional integer, the random seed.
        hyperparameters: Optional `HyperParameters` instance to override or
            register the search space in advance.
        allow_new_entries: Boolean, whether the hypermodel may request
            hyperparameters not in `hyperparameters`. Defaults to True.
        tune_new_entries: Boolean, whether such new entries are tuned.
            Defaults to True.
        max_retries_per_trial: Integer, retries of a crashed trial.
            Defaults to 0.
        max_consecutive_failed_trials: Integer, consecutive failed trials
            after which the search stops. Defaults to 3.
        trial_timeout: Optional seconds after which a running trial counts as
            lost (its worker died) and goes to another worker. Defaults to
            None (never).
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: Optional[int] = 10,
        population_size: Optional[int] = None,
        sample_size: Optional[int] = None,
        crossover_prob: float = DEFAULT_CROSSOVER_PROB,
        mutation_scale: float = DEFAULT_MUTATION_SCALE,
        initial_hps: Optional[Sequence[Values]] = None,
        seed: Optional[int] = None,
        hyperparameters: Optional[keras_tuner.HyperParameters] = None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        trial_timeout: Optional[float] = None,
    ):
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            mutation_scale=mutation_scale,
            initial_hps=initial_hps,
            seed=seed,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            trial_timeout=trial_timeout,
        )
        if population_size is None:
            population_size = default_population_size(max_trials)
        if population_size < 2:
            raise ValueError(
                f"`population_size` must be at least 2, got {population_size}."
            )
        if sample_size is None:
            sample_size = default_sample_size(population_size)
        if not 1 <= sample_size <= population_size:
            raise ValueError(
                "`sample_size` must be between 1 and `population_size` "
                f"({population_size}), got {sample_size}."
            )
        if not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(
                f"`crossover_prob` must be in [0, 1], got {crossover_prob}."
            )
        self.population_size = population_size
        self.sample_size = sample_size
        self.crossover_prob = crossover_prob

    def population(self) -> list:
        """The most recent `population_size` completed trials."""
        return self.completed_trials()[-self.population_size :]

    def _tournament(self, population: list, rng: random.Random) -> Values:
        contestants = rng.sample(population, self.sample_size)
        return self.best_of(contestants).hyperparameters.values

    def breed(self, rng: random.Random, strength: int) -> Optional[Values]:
        population = self.population()
        if len(population) < self.population_size:
            return None
        parent = self._tournament(population, rng)
        if rng.random() < self.crossover_prob:
            other = self._tournament(population, rng)
            parent = crossover.uniform_crossover(
                self.hyperparameters, parent, other, rng
            )
        return self.mutate(parent, rng, strength)


class GeneticSearch(EvolutionarySearch):
    """Architecture search by aging evolution, like `keras_tuner.RandomSearch`.

    Args:
        hypermodel: A `HyperModel` instance (or callable that takes
            hyperparameters and returns a Model). Optional when
            `Tuner.run_trial()` is overridden.
        objective: A string, `keras_tuner.Objective` instance, or a list of
            them. Optional when `run_trial()` returns a single float to
            minimize.
        max_trials: Integer, the number of trials to run. Defaults to 10.
        population_size: Integer, see `GeneticOracle`. Defaults to
            `max_trials // 3`, clipped to [4, 100].
        sample_size: Integer, tournament size, see `GeneticOracle`.
            Defaults to three quarters of `population_size`, at least 2.
        crossover_prob: Float in [0, 1]. Defaults to 0.5.
        mutation_scale: Float > 0. Defaults to 0.15.
        initial_hps: Optional list of dicts, configurations evaluated first.
        seed: Optional integer, the random seed.
        hyperparameters: Optional `HyperParameters` instance.
        tune_new_entries: Boolean. Defaults to True.
        allow_new_entries: Boolean. Defaults to True.
        max_retries_per_trial: Integer. Defaults to 0.
        max_consecutive_failed_trials: Integer. Defaults to 3.
        trial_timeout: Optional seconds after which a trial whose worker has
            not ended it goes to another worker. Defaults to None (never).
        **kwargs: Keyword arguments of `keras_tuner.Tuner`: `directory`,
            `project_name`, `overwrite`, `executions_per_trial`, ...
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int = 10,
        population_size: Optional[int] = None,
        sample_size: Optional[int] = None,
        crossover_prob: float = DEFAULT_CROSSOVER_PROB,
        mutation_scale: float = DEFAULT_MUTATION_SCALE,
        initial_hps: Optional[Sequence[Values]] = None,
        seed: Optional[int] = None,
        hyperparameters: Optional[keras_tuner.HyperParameters] = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        trial_timeout: Optional[float] = None,
        **kwargs: Any,
    ):
        oracle = GeneticOracle(
            objective=objective,
            max_trials=max_trials,
            population_size=population_size,
            sample_size=sample_size,
            crossover_prob=crossover_prob,
            mutation_scale=mutation_scale,
            initial_hps=initial_hps,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            trial_timeout=trial_timeout,
        )
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
