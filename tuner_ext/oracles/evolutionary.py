"""The machinery that evokt's oracles share: seeds, duplicates, exhaustion.

`EvolutionaryOracle` is a `keras_tuner.Oracle` whose subclasses only say how
to breed one child from the trials completed so far (`breed`). This class
proposes the user's `initial_hps` first, rejects configurations already tried
(KerasTuner's own hash over active values), asks the subclass again with more
strength on a collision, then falls back to random configurations, and to an
enumeration of what is left of a finite space, before it says `STOPPED`.

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
from collections.abc import Sequence
from typing import Any

import keras_tuner
from keras_tuner.engine import trial as trial_module

from hypermodels.errors import EvoktError
from tuner_ext import compat
from tuner_ext.clock import SYSTEM_CLOCK
from tuner_ext.clock import Clock
from tuner_ext.oracles import mutation
from tuner_ext.oracles import space as space_lib
from tuner_ext.oracles.defaults import DEFAULT_MUTATION_SCALE
from tuner_ext.oracles.pareto import objective_vector
from tuner_ext.oracles.pareto import objectives_of
from tuner_ext.oracles.pareto import trial_fronts
from tuner_ext.oracles.space import Values
from tuner_ext.oracles.trials import Constraints
from tuner_ext.oracles.trials import has_score
from tuner_ext.oracles.trials import is_feasible

TrialStatus = trial_module.TrialStatus

# Random draws in a space with a continuous hyperparameter before it counts
# as exhausted (only its discrete part can be).
_CONTINUOUS_SPACE_TRIES = 1000

# Pause before an IDLE answer: the first of a run of them, and the longest.
FIRST_IDLE_WAIT = 0.1
MAX_IDLE_WAIT = 2.0


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
        clock: Optional `tuner_ext.clock.Clock` for trial timeouts and the
            pacing of IDLE answers. Defaults to the system clock.
        constraints: Optional upper bounds on metrics, such as
            `{"params": 50000}`: a trial over them (or without the metric) is
            recorded but never a parent and never recommended. Defaults to
            None.

    With several objectives, trials are compared by Pareto dominance (see
    `tuner_ext.oracles.pareto`), never by KerasTuner's sum of them, and
    `get_best_trials` returns the Pareto fronts in turn, each ordered by the
    first objective.
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

    def completed_trials(self) -> list[trial_module.Trial]:
        """Trials that ended `COMPLETED` with a finite score within the
        constraints, oldest first.

        Failed, invalid and infeasible trials are left out: they never become
        parents.
        """
        return [self.trials[trial_id] for trial_id in self.end_order
                if has_score(self.trials[trial_id])
                and is_feasible(self.trials[trial_id], self.constraints)
                and (len(self.objectives) == 1
                     or objective_vector(self.trials[trial_id], self.objectives) is not None)]

    def get_best_trials(self, num_trials: int = 1) -> list[trial_module.Trial]:
        """The best trials within the constraints; with several objectives, the
        Pareto fronts in turn, each ordered by the first objective. As in
        KerasTuner, other trials fill the list when too few qualify."""
        if len(self.objectives) == 1:
            ranked = [trial for trial in super().get_best_trials(len(self.trials))
                      if trial.status != TrialStatus.COMPLETED
                      or is_feasible(trial, self.constraints)]
        else:
            ranked = [trial for front in trial_fronts(self.completed_trials(), self.objectives)
                      for trial in front]
            listed = {trial.trial_id for trial in ranked}
            ranked += [trial for trial in self.trials.values() if trial.trial_id not in listed]
        return ranked[:num_trials]

    def best_of(
        self, trials: Sequence[trial_module.Trial]
    ) -> trial_module.Trial:
        """The trial with the best score, in the objective's direction."""
        if self.objective.direction == "max":
            return max(trials, key=lambda trial: trial.score)
        return min(trials, key=lambda trial: trial.score)

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
        values = (
            self._next_initial_values()
            or self._bred_values(rng)
            or self._fresh_random_values(rng, self._max_collisions)
            or self._first_untried_values(rng)
        )
        if values is None:
            return {"status": TrialStatus.STOPPED, "values": None}
        return {"status": TrialStatus.RUNNING, "values": values}

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
        for strength in range(self._max_collisions):
            values = self.breed(rng, strength)
            if values is None:
                return None
            if not self._duplicate(values):
                return values
        return None

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

    @keras_tuner.synchronized
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

    @keras_tuner.synchronized
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

    @keras_tuner.synchronized
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

    @keras_tuner.synchronized
    def end_trial(self, trial: trial_module.Trial) -> None:
        """Ends a trial once: a second run of a reclaimed trial is ignored."""
        if trial.trial_id in self.end_order:
            return
        self._handed_out.pop(trial.trial_id, None)
        # A reclaimed trial may wait to be handed out again; it has ended now.
        self._retry_queue = [t for t in self._retry_queue if t != trial.trial_id]
        super().end_trial(trial)

    def reload(self) -> None:
        """Reloads the oracle and its trials from the project directory."""
        super().reload()
        # KerasTuner saves the oracle inside `end_trial` before it removes the
        # trial from the ongoing ones, and the base `reload` sends every
        # ongoing trial to be retried: a process killed between the two would
        # train an ended trial again and count it twice.
        ended = set(self.end_order)
        self._retry_queue = [
            trial_id for trial_id in self._retry_queue if trial_id not in ended
        ]

    def get_state(self) -> dict:
        state = super().get_state()
        state["oracle_class"] = type(self).__name__
        state["initial_hps_used"] = self._initial_hps_used
        state["handed_out"] = self._handed_out
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
