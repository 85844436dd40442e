"""The machinery that evokt's oracles share: seeds, duplicates, exhaustion,
re-evaluation and model guidance.

`EvolutionaryOracle` is a `keras_tuner.Oracle` whose subclasses only say how
to breed one child from the trials completed so far (`breed`). This class
proposes the user's `initial_hps` first, then re-evaluates a promising
configuration when one needs it (see below), otherwise gathers `candidates`
untried candidates, children from `breed` and draws from a model of the
completed trials, and evaluates the one that model ranks first
(`evokt.oracles.screening`). Configurations already tried are rejected
(KerasTuner's own hash over active values); a child that collides is bred
again with more strength. Until the model has enough trials, the proposal is
one child, or a random configuration while there is nothing to breed from.
It falls back to an enumeration of what is left of a finite space before it
says `STOPPED`.

Scores are noisy, so with one objective configurations are ranked by an
estimate from all their evaluations (`evokt.oracles.estimate`), not by a
single lucky score, and by their mean loss where estimates tie: the
tournament, the hill-climber's best and `get_best_trials` (hence
`get_best_hyperparameters`, `get_best_models`, evokt's export and the
service's best trial) all use it. A re-evaluation is a new trial with the
same values, trained again (the training's random state has moved on, so
with other initial weights and batches); it is the one exception to "never
the same configuration twice", recorded in the oracle's state
(`reevaluations()`: re-evaluation trial id -> the configuration's first trial
id, shown by `evokt summary` and the service), never an accident of hashing.
Which configuration is re-evaluated, and when, is
`evokt.oracles.reevaluation`'s decision: the leader and its strongest
challenger, up to `max_evaluations` each, within `reevaluation_share` of the
budget.

A Pareto search (several objectives) has no single score to estimate or to
screen by: it neither re-evaluates nor screens, and compares trials by
dominance as before.

It answers `IDLE` only when every trial has been handed out and some are still
running on other workers (they may yet fail, or their worker may die), so a
worker never idles while there is work; and it paces those answers itself (a
worker told IDLE again and again waits 0.1 s, doubling to 2 s, before the
answer comes), so any `keras_tuner.Tuner`, whose loop asks again at once,
behaves. With `trial_timeout`, a trial whose worker has not ended it in that
time is handed to the next worker that asks; whichever run ends first counts,
once. It keeps no state outside `get_state()`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import keras_tuner
from keras_tuner.engine import trial as trial_module

from evokt import compat
from evokt.clock import SYSTEM_CLOCK
from evokt.clock import Clock
from evokt.hypermodels.errors import EvoktError
from evokt.oracles import estimate
from evokt.oracles import mutation
from evokt.oracles import reevaluation
from evokt.oracles import screening
from evokt.oracles import space as space_lib
from evokt.oracles.constraints import Constraints
from evokt.oracles.defaults import DEFAULT_CANDIDATES
from evokt.oracles.defaults import DEFAULT_MAX_EVALUATIONS
from evokt.oracles.defaults import DEFAULT_MUTATION_SCALE
from evokt.oracles.defaults import DEFAULT_REEVALUATION_SHARE
from evokt.oracles.pareto import minimized
from evokt.oracles.pareto import objective_vector
from evokt.oracles.pareto import objectives_of
from evokt.oracles.pareto import trial_fronts
from evokt.oracles.space import Values
from evokt.oracles.trials import has_score
from evokt.oracles.trials import informs_search
from evokt.oracles.trials import is_feasible

TrialStatus = trial_module.TrialStatus

# Random draws in a space with a continuous hyperparameter before it counts
# as exhausted (only its discrete part can be).
_CONTINUOUS_SPACE_TRIES = 1000

# Pause before an IDLE answer: the first of a run of them, and the longest.
FIRST_IDLE_WAIT = 0.1
MAX_IDLE_WAIT = 2.0


def first_proposal(*proposers: Callable[[], Values | None]) -> Values | None:
    """The first configuration that one of `proposers`, tried in turn, proposes.

    An empty configuration `{}` is a proposal (a search whose hyperparameters
    are declared in `run_trial` starts with one, as KerasTuner's random
    search does); only None means "nothing to propose".

    Args:
        proposers: Functions of no argument, each returning a configuration
            or None; those after the first that proposes are not called.
    """
    for propose in proposers:
        values = propose()
        if values is not None:
            return values
    return None


class ProjectMismatchError(EvoktError):
    """A project directory holds the state of another kind of oracle."""


class EvolutionaryOracle(keras_tuner.Oracle):
    """Base class of the genetic and greedy oracles.

    Args:
        objective: A string, `keras_tuner.Objective` instance, or a list of
            them, as for `keras_tuner.Oracle`.
        max_trials: Integer, the number of trials to run. Defaults to 10.
        mutation_scale: Float > 0, standard deviation of a numerical
            mutation in `value_to_prob` space (0.15: mostly a neighbouring
            value). Defaults to 0.15.
        initial_hps: Optional list of dicts, known configurations (say a
            hand-designed network and its adjusted variant) to evaluate
            before anything else. Hyperparameters a dict leaves out take
            their default values. Defaults to None.
        seed: Optional integer, the random seed. The same seed and the same
            scores give the same proposals.
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
        trial_timeout: Optional number of seconds after which a running
            trial is taken to be lost (its worker died) and handed to another
            worker. Defaults to None (never).
        clock: Optional `evokt.clock.Clock` for trial timeouts and the
            pacing of IDLE answers. Defaults to the system clock.
        constraints: Optional upper bounds on metrics, such as
            `{"params": 50000}`: a trial over them (or without the metric) is
            recorded but never a parent and never recommended. Defaults to
            None.
        candidates: Integer, candidates weighed per proposal (bred, and
            drawn from the model); the one a density ratio model of the
            completed trials ranks first is evaluated. 1 turns model
            guidance off. Defaults to 24.
        max_evaluations: Integer, the most times one configuration is
            evaluated: the best-ranked configuration and its strongest
            challenger are re-evaluated (a new trial with the same values)
            until they have this many scores. 1 turns re-evaluation off.
            Defaults to 3.
        reevaluation_share: Float in [0, 1), the largest share of
            `max_trials` spent on re-evaluations; 0 turns them off.
            Defaults to 0.15.
        model_draw_share: Float in [0, 1], the share of each proposal's
            `candidates` drawn from the model's good density (TPE's own
            proposals) instead of bred; the rest are children from `breed`,
            and draws fill in for children that could not be bred.
            Defaults to 0.0.

    With several objectives, trials are compared by Pareto dominance (see
    `evokt.oracles.pareto`), never by KerasTuner's sum of them, and
    `get_best_trials` returns the Pareto fronts in turn, each ordered by the
    first objective; `candidates`, `max_evaluations` and
    `reevaluation_share` then have no effect (there is no single score to
    screen by or to average).
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: int | None = 10,
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
        compat.install()
        if max_trials is not None and max_trials < 1:
            raise ValueError(
                f"`max_trials` must be a positive integer, got {max_trials}."
            )
        if initial_hps is not None and not all(
            isinstance(values, dict) for values in initial_hps
        ):
            raise ValueError("`initial_hps` must be a list of dicts.")
        if not mutation_scale > 0:
            raise ValueError(
                f"`mutation_scale` must be positive, got {mutation_scale}."
            )
        if candidates < 1:
            raise ValueError(f"`candidates` must be at least 1, got {candidates}.")
        if max_evaluations < 1:
            raise ValueError(
                f"`max_evaluations` must be at least 1, got {max_evaluations}."
            )
        if not 0.0 <= reevaluation_share < 1.0:
            raise ValueError(
                f"`reevaluation_share` must be in [0, 1), got {reevaluation_share}."
            )
        if not 0.0 <= model_draw_share <= 1.0:
            raise ValueError(
                f"`model_draw_share` must be in [0, 1], got {model_draw_share}."
            )
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        if seed is not None:
            # KerasTuner takes `seed or random.randint(...)`: seed 0 would be
            # a random seed, and a search with it not reproducible.
            self.seed = self._seed_state = seed
        if trial_timeout is not None and not trial_timeout > 0:
            raise ValueError(f"`trial_timeout` must be positive, got {trial_timeout}.")
        self.trial_timeout = trial_timeout
        self.clock = clock or SYSTEM_CLOCK
        self.constraints = dict(constraints or {})
        # trial_id -> wall-clock time it was last handed to a worker.
        self._handed_out: dict[str, float] = {}
        # tuner_id -> IDLE answers in a row; pacing only, not state.
        self._idle_answers: dict[str, int] = {}
        self.mutation_scale = mutation_scale
        self.initial_hps = [dict(values) for values in initial_hps or []]
        self._initial_hps_used = 0
        self.candidates = candidates
        self.max_evaluations = max_evaluations
        self.reevaluation_share = reevaluation_share
        self.model_draw_share = model_draw_share
        # Re-evaluation trial id -> the id of its configuration's first trial.
        self._reevaluations: dict[str, str] = {}
        # Derived from the ended trials only, so rebuilt when one ends.
        self._ranking_cache: estimate.Ranking | None = None
        self._model_builder = screening.ModelBuilder()

    def breed(self, rng: random.Random, strength: int) -> Values | None:
        """Proposes one child configuration from the completed trials.

        Args:
            rng: The generator for this proposal; use no other randomness.
            strength: 0 for the first try; each collision with a tried
                configuration asks again with `strength` one higher, and the
                child should then differ more from its parents.

        Returns:
            A configuration, or None when there is nothing to breed from yet
            (the proposal is then random).
        """
        raise NotImplementedError

    def mutate(
        self,
        parent: Values,
        rng: random.Random,
        strength: int,
        num_mutations: int = 1,
    ) -> Values:
        """Mutates `parent`, more strongly for a higher `strength`.

        Every third collision adds one more mutated hyperparameter, and each
        widens the numerical step, so retries move further from the parent.

        Args:
            parent: The configuration to mutate.
            rng: The generator for this proposal.
            strength: As passed to `breed`.
            num_mutations: How many hyperparameters to change at strength 0.
        """
        return mutation.mutate(
            self.hyperparameters,
            parent,
            rng,
            num_mutations=num_mutations + strength // 3,
            scale=self.mutation_scale * (1 + strength),
        )

    @property
    def objectives(self) -> list[keras_tuner.Objective]:
        """The single objectives the search optimises (several for a Pareto search)."""
        return objectives_of(self.objective)

    def _usable_trials(self) -> list[trial_module.Trial]:
        """Trials that ended `COMPLETED` (or were stopped early) with a finite score
        within the constraints, oldest first (re-evaluations included)."""
        return [self.trials[trial_id] for trial_id in self.end_order
                if informs_search(self.trials[trial_id])
                and is_feasible(self.trials[trial_id], self.constraints)
                and (len(self.objectives) == 1
                     or objective_vector(self.trials[trial_id], self.objectives) is not None)]

    def completed_trials(self) -> list[trial_module.Trial]:
        """First trials of configurations that completed with a finite score
        within the constraints, oldest first.

        Failed, invalid and infeasible trials are left out: they never become
        parents. Re-evaluations are left out too: they add a score to their
        configuration (see `estimated_score`), not another member.
        """
        if len(self.objectives) > 1:
            return self._usable_trials()
        return [configuration.trial for configuration in self._ranking().configurations]

    def reevaluations(self) -> dict[str, str]:
        """Re-evaluation trial id -> the id of its configuration's first trial."""
        return dict(self._reevaluations)

    def estimated_score(self, trial: trial_module.Trial) -> float:
        """The estimate of `trial`'s configuration's true score (one objective).

        From all the configuration's evaluations (see
        `evokt.oracles.estimate`); for a configuration evaluated once,
        its score.

        Args:
            trial: A completed trial within the constraints, or a
                re-evaluation of one.
        """
        original = self._reevaluations.get(trial.trial_id, trial.trial_id)
        return self._ranking().estimates[original]

    def get_best_trials(self, num_trials: int = 1) -> list[trial_module.Trial]:
        """The best trials within the constraints: with one objective, each
        configuration's first trial, by estimated score (the mean loss
        breaking ties); with several, the Pareto fronts in turn, each ordered
        by the first objective. As in KerasTuner, other trials fill the list
        when too few qualify (never a re-evaluation, nor a completed trial
        over the constraints)."""
        if len(self.objectives) == 1:
            # A trial stopped early breeds, but is never recommended.
            ranked = [configuration.trial for configuration in self._ranking().ranked
                      if configuration.trial.status == TrialStatus.COMPLETED]
            listed = {trial.trial_id for trial in ranked}
            ranked += [trial for trial in self.trials.values()
                       if trial.trial_id not in listed and trial.trial_id not in self._reevaluations
                       and (trial.status != TrialStatus.COMPLETED
                            or (not has_score(trial) and is_feasible(trial, self.constraints)))]
        else:
            ranked = [trial for front in trial_fronts(self.completed_trials(), self.objectives)
                      for trial in front]
            listed = {trial.trial_id for trial in ranked}
            ranked += [trial for trial in self.trials.values() if trial.trial_id not in listed]
        return ranked[:num_trials]

    def score_order(self) -> Callable[[trial_module.Trial], float]:
        """Trials' order by their estimated score, the best lowest. With
        several objectives, by KerasTuner's sum of them (genetic-hyperband's
        rule; the Pareto oracles order by front instead)."""
        score = self.estimated_score if len(self.objectives) == 1 else attrgetter("score")
        return lambda trial: minimized(score(trial), self.objective.direction)

    def tournament(
        self,
        population: Sequence[trial_module.Trial],
        sample_size: int,
        rng: random.Random,
        order: Callable[[trial_module.Trial], Any] | None = None,
    ) -> trial_module.Trial:
        """The best of `sample_size` random members of `population`.

        Args:
            population: The trials that breed.
            sample_size: How many of them compete.
            rng: The generator for this proposal.
            order: The trials' order, the best lowest; by default
                `score_order()`.
        """
        return min(rng.sample(population, sample_size), key=order or self.score_order())

    def _ranking(self) -> estimate.Ranking:
        """The scored configurations and their estimates (one objective).

        They change only when a trial ends, so they are computed once per
        ended trial, not once per tournament.
        """
        if self._ranking_cache is None or self._ranking_cache.ended != len(self.end_order):
            self._ranking_cache = estimate.rank(
                self._usable_trials(), self._reevaluations, self.objective.direction,
                len(self.end_order), tie_break=estimate.tie_break_metric(self.objective.name))
        return self._ranking_cache

    def proposal_rng(self, trial_id: str) -> random.Random:
        """The generator for one proposal.

        It is derived from the oracle's seed and the trial id, not carried from
        proposal to proposal, so a search resumed after a kill proposes exactly
        what the uninterrupted one would have, with no generator state to save.
        """
        return random.Random(f"{self.seed}:{trial_id}")

    def populate_space(self, trial_id: str) -> dict:
        """Proposes the next configuration, never one already tried.

        Args:
            trial_id: A string, the ID for the new trial.

        Returns:
            `{"status": "RUNNING", "values": ...}`, or `{"status": "STOPPED"}`
            once every configuration of a finite space has been tried.
        """
        rng = self.proposal_rng(trial_id)
        values = first_proposal(
            self._next_initial_values,
            lambda: self._reevaluated_values(trial_id),
            lambda: self._screened_values(rng),
            lambda: self._first_untried_values(rng),
            lambda: self._reevaluated_values(trial_id, space_exhausted=True),
        )
        if values is None:
            return {"status": TrialStatus.STOPPED, "values": None}
        return {"status": TrialStatus.RUNNING, "values": values}

    def _reevaluated_values(
        self, trial_id: str, space_exhausted: bool = False
    ) -> Values | None:
        """The values of the configuration to re-evaluate now, if any.

        See `evokt.oracles.reevaluation`; the choice is recorded in the
        state. None in a Pareto search.

        Args:
            trial_id: The id of the trial to propose.
            space_exhausted: Whether no untried configuration is left.
        """
        if len(self.objectives) > 1:
            return None
        configuration = reevaluation.to_reevaluate(
            self._ranking(),
            self._reevaluations,
            running=set(self.trials) - set(self.end_order),
            started=len(self.trials),
            max_trials=self.max_trials,
            max_evaluations=self.max_evaluations,
            share=self.reevaluation_share,
            direction=self.objective.direction,
            space_exhausted=space_exhausted,
        )
        if configuration is None:
            return None
        self._reevaluations[trial_id] = configuration.trial.trial_id
        return dict(configuration.trial.hyperparameters.values)

    def _screened_values(self, rng: random.Random) -> Values | None:
        """An untried configuration, chosen by the model once it has one.

        Until enough configurations have completed for the model (and always
        in a Pareto search), one child (or, with nothing to breed from yet, a
        random configuration). Then `candidates` candidates, bred and drawn
        from the model's good density, of which the model picks the most
        promising.
        """
        model = self._model()
        if model is None:
            return first_proposal(lambda: self._bred_values(rng),
                                  lambda: self._fresh_random_values(rng, self._max_collisions))
        drawn = round(self.model_draw_share * self.candidates)
        bred = self._bred_candidates(rng, self.candidates - drawn)
        candidates = {self._compute_values_hash(values): values for values in bred}
        for _ in range(self.candidates + self._max_collisions):
            if len(candidates) >= self.candidates:
                break
            values = model.sample(self.hyperparameters, rng)
            if not self._duplicate(values):
                candidates.setdefault(self._compute_values_hash(values), values)
        if not candidates:
            return self._fresh_random_values(rng, self._max_collisions)
        return model.best(list(candidates.values()))

    def _model(self) -> screening.DensityRatio | None:
        """The density ratio model of the completed configurations, once
        there are enough (one objective)."""
        if len(self.objectives) > 1 or self.candidates < 2:
            return None
        ranked = self._ranking().ranked
        if len(ranked) < screening.MIN_CONFIGURATIONS:
            return None
        return self._model_builder.build(
            self.hyperparameters, [configuration.trial for configuration in ranked])

    def _next_initial_values(self) -> Values | None:
        while self._initial_hps_used < len(self.initial_hps):
            given = self.initial_hps[self._initial_hps_used]
            self._initial_hps_used += 1
            values = space_lib.complete_values(
                self.hyperparameters, given, lambda hp: hp.default
            )
            if not self._duplicate(values):
                return values
        return None

    def _bred_values(self, rng: random.Random) -> Values | None:
        """One untried child, or None when there is nothing to breed from."""
        children = self._bred_candidates(rng, 1)
        return children[0] if children else None

    def _bred_candidates(self, rng: random.Random, wanted: int) -> list[Values]:
        """Up to `wanted` untried children; none when there is nothing to breed from.

        Only a collision with a tried configuration asks for a stronger
        child; the same child bred twice just costs a try.
        """
        children: dict[str, Values] = {}
        strength = 0
        for _ in range(wanted + self._max_collisions):
            if len(children) >= wanted or strength >= self._max_collisions:
                break
            values = self.breed(rng, strength)
            if values is None:
                return []
            if self._duplicate(values):
                strength += 1
            else:
                children.setdefault(self._compute_values_hash(values), values)
        return list(children.values())

    def _fresh_random_values(
        self, rng: random.Random, tries: int
    ) -> Values | None:
        for _ in range(tries):
            values = space_lib.random_values(self.hyperparameters, rng)
            if not self._duplicate(values):
                return values
        return None

    def _first_untried_values(self, rng: random.Random) -> Values | None:
        """Searches what is left of the space for an untried configuration.

        Reached only when random draws keep colliding, that is when the space
        is (nearly) exhausted. A finite space is enumerated, so `STOPPED`
        means every configuration was tried; a continuous one gets many more
        random draws.
        """
        configurations = space_lib.iter_configurations(self.hyperparameters)
        if configurations is None:
            return self._fresh_random_values(rng, _CONTINUOUS_SPACE_TRIES)
        return next(
            (values for values in configurations if not self._duplicate(values)),
            None,
        )

    def create_trial(self, tuner_id: str) -> trial_module.Trial:
        """Hands a trial to a worker: a lost one first, then a new one.

        An IDLE answer comes after a pause that doubles with each IDLE
        answer in a row to the same worker (see `FIRST_IDLE_WAIT`), taken
        outside the oracle's lock so other workers' calls go on meanwhile.

        Args:
            tuner_id: The asking worker's id.

        Returns:
            A RUNNING trial; IDLE while all trials are handed out but some
            still run elsewhere; STOPPED once none is left.
        """
        trial = self._hand_out_trial(tuner_id)
        if trial.status != TrialStatus.IDLE:
            self._idle_answers.pop(tuner_id, None)
            return trial
        answers = self._idle_answers.get(tuner_id, 0)
        self._idle_answers[tuner_id] = answers + 1
        self.clock.sleep(min(MAX_IDLE_WAIT, FIRST_IDLE_WAIT * 2**answers))
        return trial

    @compat.synchronized
    def _hand_out_trial(self, tuner_id: str) -> trial_module.Trial:
        self._reclaim_lost_trials()
        trial = super().create_trial(tuner_id)
        if trial.status == TrialStatus.RUNNING:
            self._handed_out[trial.trial_id] = self.clock.time()
        elif trial.status == TrialStatus.STOPPED and self.ongoing_trials:
            # Another worker's trial may still fail or be lost; stay in the
            # search (the base class dropped this worker on STOPPED).
            self.tuner_ids.add(tuner_id)
            trial.status = TrialStatus.IDLE
        return trial

    @compat.synchronized
    def release_tuner(self, tuner_id: str) -> None:
        """Hands a worker's running trial to the next worker that asks.

        For a chief that knows a worker died (its process ended) and need not
        wait for `trial_timeout`.
        """
        trial = self.ongoing_trials.pop(tuner_id, None)
        self.tuner_ids.discard(tuner_id)
        if trial is not None and trial.trial_id not in self.end_order:
            self._retry_queue.append(trial.trial_id)

    def _reclaim_lost_trials(self) -> None:
        if self.trial_timeout is None:
            return
        now = self.clock.time()
        for tuner_id, trial in list(self.ongoing_trials.items()):
            started = self._handed_out.get(trial.trial_id, now)
            if now - started > self.trial_timeout:
                del self.ongoing_trials[tuner_id]
                self.tuner_ids.discard(tuner_id)
                self._retry_queue.append(trial.trial_id)

    @compat.synchronized
    def update_trial(self, trial_id: str, metrics: dict, step: int = 0) -> trial_module.Trial:
        """Records metrics, except for a trial that already ended elsewhere.

        With several objectives, a report of each objective's own metric is
        enough: KerasTuner's `multi_objective` value (their sum, which it
        scores trials by and evokt's selection ignores) is added when missing,
        as KerasTuner's tuner adds it.
        """
        if trial_id in self.end_order:
            return self.trials[trial_id]
        if (len(self.objectives) > 1 and self.objective.name not in metrics
                and all(objective.name in metrics for objective in self.objectives)):
            metrics = {**metrics, self.objective.name: self.objective.get_value(metrics)}
        return super().update_trial(trial_id, metrics, step=step)

    @compat.synchronized
    def end_trial(self, trial: trial_module.Trial) -> None:
        """Ends a trial once: a second run of a reclaimed trial is ignored."""
        if trial.trial_id in self.end_order:
            return
        self._handed_out.pop(trial.trial_id, None)
        # A reclaimed trial may wait to be handed out again; it has ended now.
        self._retry_queue = [t for t in self._retry_queue if t != trial.trial_id]
        super().end_trial(trial)

    def _record_values(self, trial: trial_module.Trial) -> None:
        super()._record_values(trial)
        # KerasTuner drops a trial's old hash from the tried set when its
        # values change; a re-evaluation shares its configuration's hash,
        # which must stay tried.
        original = self._reevaluations.get(trial.trial_id)
        if original is not None and self._id_to_hash[original]:
            self._tried_so_far.add(self._id_to_hash[original])

    def get_state(self) -> dict:
        state = super().get_state()
        state["oracle_class"] = type(self).__name__
        state["initial_hps_used"] = self._initial_hps_used
        state["handed_out"] = self._handed_out
        state["reevaluations"] = self._reevaluations
        return state

    def set_state(self, state: dict) -> None:
        # Projects of evokt 0.1 did not record their oracle's class.
        saved_class = state.get("oracle_class", type(self).__name__)
        if saved_class != type(self).__name__:
            raise ProjectMismatchError(
                f"The project at {self._project_dir} holds the state of a "
                f"{saved_class}, not of a {type(self).__name__}; "
                "change the `project_name` or pass `overwrite=True` to start a new search."
            )
        super().set_state(state)
        self._initial_hps_used = state["initial_hps_used"]
        self._handed_out = dict(state.get("handed_out", {}))
        self._reevaluations = dict(state.get("reevaluations", {}))
        self._ranking_cache = None
