"""Greedy hill-climbing: `GreedyOracle` and `GreedySearch`.

Greedy search as it is usually described: after a few random starts, every proposal
is a small mutation of the best trial so far. It is quick to improve and easy
to trap in a local optimum, which is what the genetic oracle's population is
for; it is here as the simplest strategy that still uses what it has learnt.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import keras_tuner

from evokt.clock import Clock
from evokt.oracles.constraints import Constraints
from evokt.oracles.defaults import DEFAULT_CANDIDATES
from evokt.oracles.defaults import DEFAULT_MAX_EVALUATIONS
from evokt.oracles.defaults import DEFAULT_MAX_MUTATIONS
from evokt.oracles.defaults import DEFAULT_MUTATION_SCALE
from evokt.oracles.defaults import DEFAULT_REEVALUATION_SHARE
from evokt.oracles.defaults import default_random_starts
from evokt.oracles.evolutionary import EvolutionaryOracle
from evokt.oracles.pareto import trial_fronts
from evokt.oracles.space import Values
from evokt.oracles.tuner import EvoktTuner


class GreedyOracle(EvolutionaryOracle):
    """Hill-climbing from the best trial so far.

    The first `random_starts` trials are the `initial_hps`, then random. Each
    later proposal mutates between 1 and `max_mutations` of the best
    configuration's active hyperparameters (best by the estimate from all its
    evaluations, its mean loss breaking ties, as `get_best_trials` ranks);
    a density ratio model of the completed trials picks the
    most promising of `candidates` such steps. Re-evaluation, duplicates,
    conditions, state and determinism work as in `GeneticOracle`.

    Args:
        objective: A string, `keras_tuner.Objective` instance, or a list of
            them, as for `keras_tuner.Oracle`.
        max_trials: Integer, the number of trials to run. Defaults to 10.
        random_starts: Integer, trials to complete before climbing. Defaults
            to `max_trials // 10`, clipped to [2, 10].
        max_mutations: Integer, the most hyperparameters one step changes.
            Defaults to 2.
        mutation_scale: Float > 0, numerical step size in `value_to_prob`
            space. Defaults to 0.15.
        initial_hps: Optional list of dicts, configurations evaluated first.
        seed: Optional integer, the random seed.
        hyperparameters: Optional `HyperParameters` instance to override or
            register the search space in advance.
        allow_new_entries: Boolean. Defaults to True.
        tune_new_entries: Boolean. Defaults to True.
        max_retries_per_trial: Integer. Defaults to 0.
        max_consecutive_failed_trials: Integer. Defaults to 3.
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
            drawn from the model instead of stepping from the best.
            Defaults to 0.0: every candidate is a step while enough untried
            ones can be bred.
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: int | None = 10,
        random_starts: int | None = None,
        max_mutations: int = DEFAULT_MAX_MUTATIONS,
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
        model_draw_share: float = 0.0,
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
        if random_starts is None:
            random_starts = default_random_starts(max_trials)
        if random_starts < 1:
            raise ValueError(
                f"`random_starts` must be at least 1, got {random_starts}."
            )
        if max_mutations < 1:
            raise ValueError(
                f"`max_mutations` must be at least 1, got {max_mutations}."
            )
        self.random_starts = random_starts
        self.max_mutations = max_mutations

    def breed(self, rng: random.Random, strength: int) -> Values | None:
        completed = self.completed_trials()
        if len(completed) < self.random_starts:
            return None
        if len(self.objectives) == 1:
            # The ranking is computed once per ended trial, not per child.
            best = self._ranking().ranked[0].trial
        else:  # climbs from any point of the Pareto front
            best = rng.choice(trial_fronts(completed, self.objectives)[0])
        return self.mutate(best.hyperparameters.values, rng, strength,
                           num_mutations=rng.randint(1, self.max_mutations))


class GreedySearch(EvoktTuner):
    """Architecture search by greedy hill-climbing.

    Args:
        hypermodel: A `HyperModel` instance (or callable that takes
            hyperparameters and returns a Model).
        objective: A string, `keras_tuner.Objective` instance, or a list of
            them.
        max_trials: Integer, the number of trials to run. Defaults to 10.
        random_starts: Integer, see `GreedyOracle`. Defaults to
            `max_trials // 10`, clipped to [2, 10].
        max_mutations: Integer. Defaults to 2.
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
        random_starts: int | None = None,
        max_mutations: int = DEFAULT_MAX_MUTATIONS,
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
        oracle = GreedyOracle(
            objective=objective,
            max_trials=max_trials,
            random_starts=random_starts,
            max_mutations=max_mutations,
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
