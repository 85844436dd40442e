"""Evolution inside Hyperband: `GeneticHyperbandOracle` and `GeneticHyperband`.

On real training the budget is epochs, not trials. Hyperband (Li et al.
2018) spends them on many short trainings and trains longer only the
networks that did well; DEHB (Awad et al. 2021) showed that breeding the new
networks by evolution, instead of drawing them at random, finds better ones
for the same epochs. This oracle does both, asynchronously:

- Rungs: trials train for `rung_epochs` (say 2, 4, 12, 34 and 100 epochs
  for `max_epochs=100`, `factor=3`). A new network starts in the lowest rung.
- Promotion is asynchronous successive halving (ASHA, Li et al. 2020): a
  trial moves up one rung as soon as it is among the best `1/factor` of the
  completed trials of its rung. The promoted trial continues from its parent's
  checkpoint (KerasTuner's Hyperband protocol: `tuner/trial_id`,
  `tuner/initial_epoch`, `tuner/epochs`), so a promotion costs only the epochs
  it adds. Nobody waits for a round to fill: when no trial can be promoted a
  worker gets a new network.
- New networks are bred by aging evolution (tournament, uniform crossover,
  mutation in each hyperparameter's own terms) from the most recent completed
  trials of the highest rung that has `population_size` of them: the networks
  that did best at the longest training seen so far. Until some rung has that
  many, and for a `random_fraction` of the new networks, they are random.
- The budget is epochs: every trial's epochs (a promotion's added epochs) are
  counted when it is handed out, and no trial is handed out that the rest of
  `max_epochs_budget` cannot pay for. When the budget is spent the search
  stops; workers whose colleagues still train are told IDLE (in case a trial
  is lost and must be trained again) and evokt's tuners then back off.
- With the tuner's `keep_checkpoints`, the trials a promotion may pick next
  keep their checkpoints (`checkpoints_needed`); a trial whose checkpoint was
  deleted is never promoted.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import keras_tuner
from keras_tuner.engine import trial as trial_module

from evokt.clock import Clock
from evokt.oracles import crossover
from evokt.oracles.constraints import Constraints
from evokt.oracles.defaults import DEFAULT_CROSSOVER_PROB
from evokt.oracles.defaults import DEFAULT_FACTOR
from evokt.oracles.defaults import DEFAULT_MAX_TRIALS
from evokt.oracles.defaults import DEFAULT_MUTATION_SCALE
from evokt.oracles.defaults import DEFAULT_RANDOM_FRACTION
from evokt.oracles.defaults import GENETIC_HYPERBAND_POPULATION
from evokt.oracles.defaults import three_quarters_sample
from evokt.oracles.defaults import tournament_sizes
from evokt.oracles.evolutionary import EvolutionaryOracle
from evokt.oracles.evolutionary import first_proposal
from evokt.oracles.pareto import minimized
from evokt.oracles.retention import PARENT_TRIAL
from evokt.oracles.space import Values
from evokt.oracles.trials import has_score
from evokt.oracles.trials import is_feasible
from evokt.oracles.tuner import EvoktTuner

TrialStatus = trial_module.TrialStatus

# KerasTuner's Hyperband protocol: the values a tuner reads to continue a trial.
EPOCHS = "tuner/epochs"
INITIAL_EPOCH = "tuner/initial_epoch"
BRACKET = "tuner/bracket"
ROUND = "tuner/round"
_PROTOCOL_KEYS = (EPOCHS, INITIAL_EPOCH, PARENT_TRIAL, BRACKET, ROUND)



def rung_epochs(max_epochs: int, factor: int, min_epochs: int = 1) -> list[int]:
    """The epochs of each rung, lowest first, as KerasTuner's Hyperband counts.

    `max_epochs / factor**k`, rounded up, for every `k` that keeps it at least
    `min_epochs`: `rung_epochs(100, 3)` is `[2, 4, 12, 34, 100]`.
    """
    num_rungs = 1
    while min_epochs * factor**num_rungs <= max_epochs:
        num_rungs += 1
    return [-(-max_epochs // factor**k) for k in reversed(range(num_rungs))]


def epochs_added(values: Values) -> int:
    """Epochs a trial trains: its own, not its parent's."""
    return values[EPOCHS] - values.get(INITIAL_EPOCH, 0)


class GeneticHyperbandOracle(EvolutionaryOracle):
    """Asynchronous successive halving whose new networks are bred by evolution.

    See the module's docstring for the algorithm. Each trial's
    hyperparameters hold KerasTuner's Hyperband values: `tuner/epochs` (train
    up to this epoch), `tuner/initial_epoch` (from this one), `tuner/trial_id`
    (for a promotion: the trial whose checkpoint to start from),
    `tuner/bracket` (always the number of rungs less one: there is one
    bracket, the one that starts in the lowest rung) and `tuner/round` (the
    rung). Use it with `GeneticHyperband`, `keras_tuner.Hyperband`'s tuner, or
    any tuner that honours those values.

    It proposes with its own `populate_space`, so it neither re-evaluates
    configurations nor screens candidates with a model (its promotions
    already evaluate the best networks again, trained longer), and it ranks
    trials by their own scores, each rung apart.

    Args:
        objective: A string, `keras_tuner.Objective` instance, or a list of
            them, as for `keras_tuner.Oracle`.
        max_epochs: Integer, the most epochs one network is trained (the top
            rung). Defaults to 100.
        max_epochs_budget: Integer, the epochs all trials may train together;
            a promotion counts only the epochs it adds. The search stops when
            the rest cannot pay for another trial. Defaults to
            `10 * max_epochs`.
        factor: Integer >= 2, the ratio of the epochs of two consecutive
            rungs, and the inverse of the share of a rung that is promoted.
            Defaults to 3.
        min_epochs: Integer >= 1, the fewest epochs of the lowest rung.
            Defaults to 1.
        population_size: Integer >= 2, how many recent completed trials of a
            rung breed new networks; the highest rung with that many is used.
            Defaults to 10.
        sample_size: Integer, tournament size, from 1 to `population_size`.
            Defaults to three quarters of `population_size`, at least 2.
        crossover_prob: Float in [0, 1], probability of crossing the
            tournament winner with a second winner before mutating it.
            Defaults to 0.5.
        mutation_scale: Float > 0, standard deviation of a numerical
            mutation in `value_to_prob` space. Defaults to 0.15.
        random_fraction: Float in [0, 1), the share of new networks drawn at
            random once evolution has started, so the search keeps looking
            beyond the parents' neighbourhood. Defaults to 0.2.
        initial_hps: Optional list of dicts, configurations started first in
            the lowest rung. Defaults to None.
        seed: Optional integer, the random seed. The same seed and the same
            scores give the same proposals.
        hyperparameters: Optional `HyperParameters` instance to override or
            register the search space in advance.
        allow_new_entries: Boolean, whether the hypermodel may request
            hyperparameters not in `hyperparameters`. Defaults to True.
        tune_new_entries: Boolean, whether such new entries are tuned.
            Defaults to True.
        max_retries_per_trial: Integer, retries of a crashed trial (a retry
            trains again beyond the budget). Defaults to 0.
        max_consecutive_failed_trials: Integer, consecutive failed trials
            after which the search stops. Defaults to 3.
        trial_timeout: Optional seconds after which a running trial counts as
            lost (its worker died) and goes to another worker. Defaults to
            None (never).
        clock: Optional `evokt.clock.Clock` for trial timeouts and the
            pacing of IDLE answers. Defaults to the system clock.
        constraints: Optional upper bounds on metrics (`{"params": 50000}`):
            a trial over them is never promoted, bred from nor recommended.
            Defaults to None.
    """

    def __init__(
        self,
        objective: Any = None,
        max_epochs: int = 100,
        max_epochs_budget: int | None = None,
        factor: int = DEFAULT_FACTOR,
        min_epochs: int = 1,
        population_size: int = GENETIC_HYPERBAND_POPULATION,
        sample_size: int | None = None,
        crossover_prob: float = DEFAULT_CROSSOVER_PROB,
        mutation_scale: float = DEFAULT_MUTATION_SCALE,
        random_fraction: float = DEFAULT_RANDOM_FRACTION,
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
        _check_integer("max_epochs", max_epochs, 1)
        _check_integer("factor", factor, 2)
        _check_integer("min_epochs", min_epochs, 1)
        if min_epochs > max_epochs:
            raise ValueError(
                f"`min_epochs` ({min_epochs}) must not exceed `max_epochs` ({max_epochs})."
            )
        if max_epochs_budget is None:
            max_epochs_budget = DEFAULT_MAX_TRIALS * max_epochs
        epochs_of_rungs = rung_epochs(max_epochs, factor, min_epochs)
        _check_integer("max_epochs_budget", max_epochs_budget, epochs_of_rungs[0])
        population_size, sample_size = tournament_sizes(population_size, sample_size,
                                                        three_quarters_sample)
        if not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(f"`crossover_prob` must be in [0, 1], got {crossover_prob}.")
        if not 0.0 <= random_fraction < 1.0:
            raise ValueError(f"`random_fraction` must be in [0, 1), got {random_fraction}.")
        # The cheapest trial: a new network, or a promotion (rounding can make
        # one cheaper than a new network: rungs of 2, 3 and 5 epochs).
        cheapest = min([epochs_of_rungs[0]] + [
            higher - lower
            for lower, higher in zip(epochs_of_rungs, epochs_of_rungs[1:], strict=False)])
        super().__init__(
            objective=objective,
            # The most trials the budget can pay for; the budget, not this,
            # ends the search.
            max_trials=max_epochs_budget // cheapest,
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
        )
        self.max_epochs = max_epochs
        self.max_epochs_budget = max_epochs_budget
        self.factor = factor
        self.min_epochs = min_epochs
        self.rung_epochs = epochs_of_rungs
        self.population_size = population_size
        self.sample_size = sample_size
        self.crossover_prob = crossover_prob
        self.random_fraction = random_fraction
        # Epochs of the trials handed out so far.
        self.epochs_used = 0
        # trial_id -> its rung; parent trial_id -> the trial that continues it.
        self._rung_of: dict[str, int] = {}
        self._promoted_to: dict[str, str] = {}
        # Trials whose checkpoints the tuner deleted: never promoted.
        self._without_checkpoint: set[str] = set()

    @property
    def epochs_left(self) -> int:
        """Epochs of the budget not yet handed out."""
        return self.max_epochs_budget - self.epochs_used

    def rung_trials(self, rung: int) -> list[trial_module.Trial]:
        """The trials of a rung that completed with a score, in end order."""
        return [
            self.trials[trial_id]
            for trial_id in self.end_order
            if self._rung_of.get(trial_id) == rung and has_score(self.trials[trial_id])
            and is_feasible(self.trials[trial_id], self.constraints)
        ]

    def _ranked(self, trials: list[trial_module.Trial]) -> list[trial_module.Trial]:
        # Stable: equal scores keep their end order.
        return sorted(trials, key=lambda trial: minimized(trial.score, self.objective.direction))

    def population(self) -> list[trial_module.Trial]:
        """The parents of new networks: the last `population_size` completed
        trials of the highest rung that has that many, or none yet."""
        for rung in reversed(range(len(self.rung_epochs))):
            completed = self.rung_trials(rung)
            if len(completed) >= self.population_size:
                return completed[-self.population_size :]
        return []

    def breed(self, rng: random.Random, strength: int) -> Values | None:
        population = self.population()
        if not population:
            return None
        parent = self.tournament(population, self.sample_size, rng).hyperparameters.values
        if rng.random() < self.crossover_prob:
            other = self.tournament(population, self.sample_size, rng).hyperparameters.values
            parent = crossover.uniform_crossover(self.hyperparameters, parent, other, rng)
        return self.mutate(parent, rng, strength)

    def _promotion(self, quota_share: int | None) -> tuple[trial_module.Trial, int] | None:
        """The trial to promote next and the rung it goes to, if any.

        Highest rungs first (they are closest to a finished network), best
        trial first; only promotions the budget can pay for.

        Args:
            quota_share: A trial must be in the best `1/quota_share` of its
                rung's completed trials; None lets any completed trial up.
        """
        for rung in reversed(range(len(self.rung_epochs) - 1)):
            cost = self.rung_epochs[rung + 1] - self.rung_epochs[rung]
            if cost > self.epochs_left:
                continue
            ranked = self._ranked(self.rung_trials(rung))
            quota = len(ranked) if quota_share is None else len(ranked) // quota_share
            for trial in ranked[:quota]:
                if trial.trial_id not in self._promoted_to and \
                        trial.trial_id not in self._without_checkpoint:
                    return trial, rung + 1
        return None

    def checkpoints_needed(self) -> set[str]:
        """The trials a promotion may continue next, whose checkpoints stay
        (`keep_checkpoints`): in each rung below the top, those not yet
        promoted among the best `1/factor` of its completed trials, and the
        one next in line when the rung's quota grows."""
        needed = set()
        for rung in range(len(self.rung_epochs) - 1):
            ranked = self._ranked(self.rung_trials(rung))
            needed.update(trial.trial_id for trial in ranked[:len(ranked) // self.factor + 1]
                          if trial.trial_id not in self._promoted_to)
        return needed - self._without_checkpoint

    def checkpoints_deleted(self, trial_ids: Sequence[str]) -> None:
        """Told by the tuner, before it deletes them: these trials' checkpoints
        go, so they are never promoted.

        Args:
            trial_ids: The trials whose checkpoints are deleted.
        """
        self._without_checkpoint.update(trial_ids)

    def _new_values(self, trial_id: str) -> Values | None:
        """An untried configuration for the lowest rung, bred or random."""
        rng = self.proposal_rng(trial_id)
        explore = rng.random() < self.random_fraction
        return first_proposal(
            self._next_initial_values,
            lambda: None if explore else self._bred_values(rng),
            lambda: self._fresh_random_values(rng, self._max_collisions),
            lambda: self._first_untried_values(rng),
        )

    def populate_space(self, trial_id: str) -> dict:
        """Proposes a promotion or a new network in the lowest rung.

        Args:
            trial_id: A string, the ID for the new trial.

        Returns:
            `{"status": "RUNNING", "values": ...}` with the Hyperband values
            set; `{"status": "STOPPED"}` when the budget cannot pay for any
            trial, or nothing is left to try or promote.
        """
        stopped = {"status": TrialStatus.STOPPED, "values": None}
        promotion = self._promotion(quota_share=self.factor)
        if promotion is None:
            if self.rung_epochs[0] > self.epochs_left:
                return stopped
            values = self._new_values(trial_id)
            if values is not None:
                return self._start(trial_id, values, rung=0, parent=None)
            # Nothing new to try (a finite space, exhausted): spend the rest
            # of the budget training the best networks further.
            promotion = self._promotion(quota_share=None)
        if promotion is None:
            return stopped
        parent, rung = promotion
        values = {key: value for key, value in parent.hyperparameters.values.items()
                  if key not in _PROTOCOL_KEYS}
        return self._start(trial_id, values, rung=rung, parent=parent.trial_id)

    def _start(self, trial_id: str, values: Values, rung: int, parent: str | None) -> dict:
        values = dict(values)
        values[EPOCHS] = self.rung_epochs[rung]
        values[INITIAL_EPOCH] = self.rung_epochs[rung - 1] if parent is not None else 0
        if parent is not None:
            values[PARENT_TRIAL] = parent
            self._promoted_to[parent] = trial_id
        values[BRACKET] = len(self.rung_epochs) - 1
        values[ROUND] = rung
        self._rung_of[trial_id] = rung
        self.epochs_used += epochs_added(values)
        return {"status": TrialStatus.RUNNING, "values": values}

    def _compute_values_hash(self, values: Values) -> str:
        # A network is the same network whatever it is trained for (as in
        # KerasTuner's Hyperband): a new one must differ from every one tried.
        values = {key: value for key, value in values.items() if key not in _PROTOCOL_KEYS}
        return super()._compute_values_hash(values)

    def get_best_trials(self, num_trials: int = 1) -> list[trial_module.Trial]:
        """The best trials within the constraints by score; on equal scores, the
        longer trained first. (Several objectives are summed, as KerasTuner's
        Hyperband sums them; the tuner's `pareto_front()` reports the front.)"""
        completed = sorted(
            (trial for trial in self.trials.values() if trial.status == TrialStatus.COMPLETED
             and is_feasible(trial, self.constraints)),
            key=lambda trial: (minimized(trial.score, self.objective.direction),
                               -trial.hyperparameters.values.get(EPOCHS, 0)),
        )
        others = [trial for trial in self.trials.values() if trial.status != TrialStatus.COMPLETED]
        return (completed + others)[:num_trials]

    def get_state(self) -> dict:
        state = super().get_state()
        state.update(
            epochs_used=self.epochs_used,
            rung_of=self._rung_of,
            promoted_to=self._promoted_to,
            without_checkpoint=sorted(self._without_checkpoint),
        )
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self.epochs_used = state["epochs_used"]
        self._rung_of = dict(state["rung_of"])
        self._promoted_to = dict(state["promoted_to"])
        self._without_checkpoint = set(state.get("without_checkpoint", []))


def _check_integer(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"`{name}` must be an integer of at least {low}, got {value!r}.")


class GeneticHyperband(EvoktTuner):
    """Evolutionary Hyperband, like `keras_tuner.Hyperband`.

    Trains each trial from `tuner/initial_epoch` to `tuner/epochs`; a promoted
    trial starts from the weights its parent trial saved (its best epoch), as
    KerasTuner's Hyperband does. In a distributed search a trial may continue
    another worker's checkpoint: each worker fetches it from the chief, which
    every worker sends its checkpoints to, so no directory need be shared.

    Args:
        hypermodel: A `HyperModel` instance (or callable that takes
            hyperparameters and returns a Model). Optional when
            `Tuner.run_trial()` is overridden.
        objective: A string, `keras_tuner.Objective` instance, or a list of
            them. Optional when `run_trial()` returns a single float to
            minimize.
        max_epochs: Integer, the most epochs one network is trained.
            Defaults to 100.
        max_epochs_budget: Integer, the epochs all trials may train together
            (a promotion counts only the epochs it adds). Defaults to
            `10 * max_epochs`.
        factor: Integer >= 2, ratio of two rungs' epochs. Defaults to 3.
        min_epochs: Integer, fewest epochs of the lowest rung. Defaults to 1.
        population_size: Integer, see `GeneticHyperbandOracle`. Defaults
            to 10.
        sample_size: Integer, tournament size. Defaults to three quarters of
            `population_size`, at least 2.
        crossover_prob: Float in [0, 1]. Defaults to 0.5.
        mutation_scale: Float > 0. Defaults to 0.15.
        random_fraction: Float in [0, 1), share of random new networks.
            Defaults to 0.2.
        initial_hps: Optional list of dicts, configurations started first.
        seed: Optional integer, the random seed.
        hyperparameters: Optional `HyperParameters` instance.
        tune_new_entries: Boolean. Defaults to True.
        allow_new_entries: Boolean. Defaults to True.
        max_retries_per_trial: Integer. Defaults to 0.
        max_consecutive_failed_trials: Integer. Defaults to 3.
        trial_timeout: Optional seconds after which a trial whose worker has
            not ended it goes to another worker. Defaults to None (never).
        constraints: Optional upper bounds on metrics, such as
            `{"params": 50000}`. Defaults to None.
        keep_checkpoints: Optional integer K: delete, as trials end, the
            checkpoints of all but the best K trials, those still in use and
            those the oracle may promote next (see
            `evokt.oracles.tuner.EvoktTuner`). Defaults to None (keep all, as
            KerasTuner does).
        **kwargs: Keyword arguments of `keras_tuner.Tuner`: `directory`,
            `project_name`, `overwrite`, ...
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_epochs: int = 100,
        max_epochs_budget: int | None = None,
        factor: int = DEFAULT_FACTOR,
        min_epochs: int = 1,
        population_size: int = GENETIC_HYPERBAND_POPULATION,
        sample_size: int | None = None,
        crossover_prob: float = DEFAULT_CROSSOVER_PROB,
        mutation_scale: float = DEFAULT_MUTATION_SCALE,
        random_fraction: float = DEFAULT_RANDOM_FRACTION,
        initial_hps: Sequence[Values] | None = None,
        seed: int | None = None,
        hyperparameters: keras_tuner.HyperParameters | None = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        trial_timeout: float | None = None,
        constraints: Constraints = None,
        keep_checkpoints: int | None = None,
        **kwargs: Any,
    ):
        oracle = GeneticHyperbandOracle(
            objective=objective,
            max_epochs=max_epochs,
            max_epochs_budget=max_epochs_budget,
            factor=factor,
            min_epochs=min_epochs,
            population_size=population_size,
            sample_size=sample_size,
            crossover_prob=crossover_prob,
            mutation_scale=mutation_scale,
            random_fraction=random_fraction,
            initial_hps=initial_hps,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            trial_timeout=trial_timeout,
            constraints=constraints,
        )
        super().__init__(oracle=oracle, hypermodel=hypermodel, constraints=constraints,
                         keep_checkpoints=keep_checkpoints, **kwargs)

    def run_trial(self, trial: trial_module.Trial, *fit_args: Any, **fit_kwargs: Any):
        values = trial.hyperparameters.values
        fit_kwargs["epochs"] = values[EPOCHS]
        fit_kwargs["initial_epoch"] = values[INITIAL_EPOCH]
        return super().run_trial(trial, *fit_args, **fit_kwargs)

    def _build_hypermodel(self, hp: keras_tuner.HyperParameters):
        model = super()._build_hypermodel(hp)
        parent_id = hp.values.get(PARENT_TRIAL)
        if parent_id is not None:
            # The parent's best epoch (fetched from the chief when another
            # worker trained it); the optimizer starts afresh, as in
            # KerasTuner's Hyperband.
            self.restore_checkpoint(model, parent_id)
        return model
