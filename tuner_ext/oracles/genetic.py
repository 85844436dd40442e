"""Aging ("regularized") evolution: `GeneticOracle` and `GeneticSearch`.

After Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search": the population is the most recent `population_size`
completed configurations, so a model that was lucky once ages out instead of
dominating forever. Each child is a mutation of the winner of a tournament of
`sample_size` members; with one objective, a density ratio model (TPE's) of
the completed trials chooses among several children and its own draws which
one to evaluate.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import keras_tuner
from keras_tuner.engine import trial as trial_module

from evokt.clock import Clock
from evokt.oracles import crossover
from evokt.oracles.constraints import Constraints
from evokt.oracles.defaults import DEFAULT_CANDIDATES
from evokt.oracles.defaults import DEFAULT_CROSSOVER_PROB
from evokt.oracles.defaults import DEFAULT_MAX_EVALUATIONS
from evokt.oracles.defaults import DEFAULT_MODEL_DRAW_SHARE
from evokt.oracles.defaults import DEFAULT_MUTATION_SCALE
from evokt.oracles.defaults import DEFAULT_REEVALUATION_SHARE
from evokt.oracles.defaults import default_population_size
from evokt.oracles.defaults import default_sample_size
from evokt.oracles.defaults import tournament_sizes
from evokt.oracles.evolutionary import EvolutionaryOracle
from evokt.oracles.pareto import objective_vector
from evokt.oracles.pareto import rank_and_crowding
from evokt.oracles.space import Values
from evokt.oracles.tuner import EvoktTuner

Trial = trial_module.Trial
# A tournament's order of trials: the best has the lowest key.
TrialOrder = Callable[[Trial], Any]


class GeneticOracle(EvolutionaryOracle):
    """Aging evolution over the structure and training hyperparameters, guided by a model.

    Until `population_size` trials have completed, proposals are the
    `initial_hps`, then random, then (from 10 completed trials on) drawn from
    a density ratio model of the completed trials, TPE's. After that each
    proposal weighs `candidates` candidates and evaluates the one the model
    ranks first: half are children bred from the last `population_size`
    completed configurations (a tournament of `sample_size` random members
    picks the best, which is mutated; with probability `crossover_prob` it is
    first crossed with the winner of a second tournament, unless that one
    could only pick the same), half are drawn from the model. Mutation
    changes only active hyperparameters, in each one's own terms (see
    `evokt.oracles.mutation`).

    Scores are noisy: configurations are compared by an estimate from all
    their evaluations, and the leading configurations are re-evaluated (see
    `EvolutionaryOracle`), the one exception to "no configuration twice".
    With several objectives the tournament ranks by Pareto front and
    crowding, without model or re-evaluation. There is no generation
    barrier: a child is bred whenever a worker asks, so any number of trials
    can run at once.

    Args:
        objective: A string, `keras_tuner.Objective` instance, or a list of
            them, as for `keras_tuner.Oracle`.
        max_trials: Integer, the number of trials to run. Defaults to 10.
        population_size: Integer, how many of the most recent completed trials
            form the population. Defaults to `max_trials // 3`, clipped to
            [4, 100].
        sample_size: Integer, tournament size, from 1 to `population_size`.
            Larger is greedier. Defaults to `population_size`: the
            tournament picks the population's best (with several
            objectives, three quarters of it, at least 2).
        crossover_prob: Float in [0, 1], probability of crossing the
            tournament winner with a second winner before mutating it. With
            the whole population in each tournament both would be its best:
            only configurations whose estimates tie are mixed, and with a
            unique best there is no second tournament. Defaults to 0.5.
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
        clock: Optional `evokt.clock.Clock` for trial timeouts and the
            pacing of IDLE answers. Defaults to the system clock.
        constraints: Optional upper bounds on metrics (`{"params": 50000}`):
            a trial over them is never a parent nor recommended. Defaults to
            None.
        candidates: Integer, candidates screened per proposal by a density
            ratio model of the completed trials (TPE's); the most promising
            is evaluated. 1 turns model guidance off. Defaults to 24.
        max_evaluations: Integer, the most times one configuration is
            evaluated: the best-ranked configuration and its strongest
            challenger are re-evaluated (a new trial with the same values)
            until they have this many scores. 1 turns re-evaluation off.
            Defaults to 3.
        reevaluation_share: Float in [0, 1), the largest share of
            `max_trials` spent on re-evaluations; 0 turns them off.
            Defaults to 0.15.
        model_draw_share: Float in [0, 1], the share of the `candidates`
            drawn from the model instead of bred. Defaults to 0.5.
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: int | None = 10,
        population_size: int | None = None,
        sample_size: int | None = None,
        crossover_prob: float = DEFAULT_CROSSOVER_PROB,
        mutation_scale: float = DEFAULT_MUTATION_SCALE,
        initial_hps: Sequence[Values] | None = None,
        seed: int | None = None,
        hyperparameters: keras_tuner.HyperParameters | None = None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        trial_timeout: float | None = None,
        clock: Clock | None = None,
        constraints: Constraints = None,
        candidates: int = DEFAULT_CANDIDATES,
        max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
        reevaluation_share: float = DEFAULT_REEVALUATION_SHARE,
        model_draw_share: float = DEFAULT_MODEL_DRAW_SHARE,
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
            clock=clock,
            constraints=constraints,
            candidates=candidates,
            max_evaluations=max_evaluations,
            reevaluation_share=reevaluation_share,
            model_draw_share=model_draw_share,
        )
        population_size, sample_size = tournament_sizes(
            default_population_size(max_trials) if population_size is None else population_size,
            sample_size,
            lambda population: default_sample_size(population, len(self.objectives)))
        if not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(
                f"`crossover_prob` must be in [0, 1], got {crossover_prob}."
            )
        self.population_size = population_size
        self.sample_size = sample_size
        self.crossover_prob = crossover_prob

    def population(self) -> list[Trial]:
        """The most recent `population_size` completed configurations."""
        return self.completed_trials()[-self.population_size :]

    def _tournament_key(self, population: list[Trial]) -> TrialOrder:
        """The tournament's order of `population`'s trials, the best lowest.

        With one objective, the estimated score in the objective's
        direction. With several, NSGA-II's ranking of the population: a lower
        front first, then the larger crowding distance (a sparser region of
        the front).

        Args:
            population: The trials that breed.
        """
        if len(self.objectives) == 1:
            return self.score_order()
        ranking = dict(zip((trial.trial_id for trial in population), rank_and_crowding(
            [objective_vector(trial, self.objectives) for trial in population]), strict=True))
        return lambda trial: (ranking[trial.trial_id][0], -ranking[trial.trial_id][1])

    def _has_rival(self, population: list[Trial], key: TrialOrder, winner: Trial) -> bool:
        """Whether a second tournament could pick another trial than `winner`.

        Not when each tournament holds the whole population (the default)
        and `winner` alone is its best: both would pick `winner`, and
        crossing it with itself would change nothing.

        Args:
            population: The trials that breed.
            key: Their order, the best lowest.
            winner: The first tournament's winner.
        """
        if self.sample_size < len(population):
            return True
        best = key(winner)
        return sum(key(trial) == best for trial in population) > 1

    def breed(self, rng: random.Random, strength: int) -> Values | None:
        population = self.population()
        if len(population) < self.population_size:
            return None
        key = self._tournament_key(population)
        winner = self.tournament(population, self.sample_size, rng, key)
        parent = winner.hyperparameters.values
        if self._has_rival(population, key, winner) and rng.random() < self.crossover_prob:
            other = self.tournament(population, self.sample_size, rng, key).hyperparameters.values
            parent = crossover.uniform_crossover(
                self.hyperparameters, parent, other, rng
            )
        return self.mutate(parent, rng, strength)


class GeneticSearch(EvoktTuner):
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
            Defaults to `population_size` (three quarters of it with
            several objectives).
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
        constraints: Optional upper bounds on metrics, such as
            `{"params": 50000, "latency_ms": 2.0}`: a trial over them is
            recorded but never bred from nor recommended. Every trial's
            `params`, `latency_ms` and `model_bytes` are measured (see
            `evokt.oracles.measures`). Defaults to None.
        folds: Integer, 1 to score each trial on the `validation_data`; K
            (2 to 10) to score it by K-fold cross-validation on `x` and `y`
            (all the data), the best models then refitted on all of it.
            Defaults to 1.
        keep_checkpoints: Optional integer K: delete, as trials end, the
            checkpoints of all but the best K trials and those still in use
            (see `evokt.oracles.tuner.EvoktTuner`). Defaults to None (keep
            all, as KerasTuner does).
        candidates: Integer, candidates screened per proposal, see
            `EvolutionaryOracle`. 1 turns model guidance off. Defaults to 24.
        max_evaluations: Integer, the most evaluations of one configuration.
            1 turns re-evaluation off. Defaults to 3.
        reevaluation_share: Float in [0, 1), the largest share of the
            trials spent on re-evaluations. Defaults to 0.15.
        **kwargs: `early_stopping` (see `evokt.oracles.tuner.EvoktTuner`), and
            keyword arguments of `keras_tuner.Tuner`: `directory`,
            `project_name`, `overwrite`, `executions_per_trial`, ...
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int = 10,
        population_size: int | None = None,
        sample_size: int | None = None,
        crossover_prob: float = DEFAULT_CROSSOVER_PROB,
        mutation_scale: float = DEFAULT_MUTATION_SCALE,
        initial_hps: Sequence[Values] | None = None,
        seed: int | None = None,
        hyperparameters: keras_tuner.HyperParameters | None = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        trial_timeout: float | None = None,
        constraints: Constraints = None,
        folds: int = 1,
        keep_checkpoints: int | None = None,
        candidates: int = DEFAULT_CANDIDATES,
        max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
        reevaluation_share: float = DEFAULT_REEVALUATION_SHARE,
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
            constraints=constraints,
            candidates=candidates,
            max_evaluations=max_evaluations,
            reevaluation_share=reevaluation_share,
        )
        super().__init__(oracle=oracle, hypermodel=hypermodel, constraints=constraints,
                         folds=folds, keep_checkpoints=keep_checkpoints, **kwargs)
