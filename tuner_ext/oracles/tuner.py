"""`EvoktTuner`: what evokt's tuners add to `keras_tuner.Tuner`.

- Every trial's model is measured (`params`, `latency_ms`, `model_bytes`, see
  `evokt.oracles.measures`), so they can be objectives and constraints
  without user code.
- The tuner knows its recommended trials and its Pareto front under the
  search's constraints.
- With `folds=K`, each trial is scored by K-fold cross-validation on all the
  data `search` is given (`evokt.oracles.cross_validation`), and a model
  is refitted on all of it, for its best mean number of epochs, when it is
  asked for (`get_best_models`, evokt's export).
- With `keep_checkpoints=K`, only the best K trials' checkpoints and those
  still in use stay on disk (`evokt.oracles.retention`).
- Every epoch's metrics are reported to the oracle as the epoch ends, and
  with `early_stopping="median"` hopeless trials stop early
  (`evokt.oracles.early_stopping`).

`GeneticSearch` and `GreedySearch` are `EvoktTuner`s; `evokt_tuner()` makes
one of any KerasTuner tuner (the CLI and the service run every strategy that
way).
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
import warnings
from typing import Any

import keras
import keras_tuner
import numpy as np
from keras_tuner.engine import trial as trial_module
from keras_tuner.engine.tuner import maybe_distribute
from keras_tuner.src import backend
from keras_tuner.src import utils
from keras_tuner.src.distribute import utils as dist_utils

from evokt import compat
from evokt.chief.client import ChiefClient
from evokt.oracles.constraints import Constraints
from evokt.oracles.cross_validation import fold_indices
from evokt.oracles.cross_validation import mean_history
from evokt.oracles.defaults import MAX_FOLDS
from evokt.oracles.defaults import MEASURED_METRICS
from evokt.oracles.early_stopping import MedianStopping
from evokt.oracles.early_stopping import install_epoch_reports
from evokt.oracles.early_stopping import report_epoch
from evokt.oracles.early_stopping import stopping_rule
from evokt.oracles.measures import ModelMeasures
from evokt.oracles.pareto import objectives_of
from evokt.oracles.pareto import pareto_front
from evokt.oracles.retention import PARENT_TRIAL
from evokt.oracles.retention import check_keep_checkpoints
from evokt.oracles.retention import retire_checkpoints
from evokt.oracles.trials import recommended_trials

# KerasTuner's words, for the same mistake.
NO_HYPERMODEL_MESSAGE = (
    "Received `hypermodel=None`. We only allow not specifying `hypermodel` if the user "
    "defines the search space in `Tuner.run_trial()` by subclassing a `Tuner` class without "
    "using a `HyperModel` instance.")
# evokt's top-level package: tuners defined in it are not the user's.
_PACKAGE = __name__.split(".")[0]


class EvoktTuner(keras_tuner.Tuner):
    """A `keras_tuner.Tuner` that measures its models and knows its Pareto front.

    Args:
        *args: Arguments of `keras_tuner.Tuner` (or of the tuner it is mixed into).
        constraints: Optional upper bounds on metrics (`{"params": 50000,
            "latency_ms": 2}`): trials over them are recorded, but never
            recommended by `get_best_trials`' followers here (and, with evokt's
            oracles, never bred from).
        folds: Integer, 1 to score each trial on the `validation_data` given
            to `search`; K (2 to 10) to score it by K-fold cross-validation on
            `x` and `y`, which should then hold all the data (any
            `validation_data` is not used). Defaults to 1.
        keep_checkpoints: Optional integer K: as trials end, delete the
            checkpoints of all but the best K trials (in `get_best_trials`'
            order, within the constraints; with several objectives the
            Pareto front too) and those still in use (running trials, the
            trials they continue or re-evaluate, the trials a Hyperband
            oracle may promote). A deleted trial that later becomes the
            best is retrained from its configuration when its model is
            asked for. Defaults to None: keep every checkpoint, as
            KerasTuner does.
        early_stopping: Optional stopping rule of trials that do worse than
            the others at the same epoch: `"median"` (see
            `evokt.oracles.early_stopping.MedianStopping`) or a rule object.
            A stopped trial ends `STOPPED`, never recommended. Needs one
            objective, `folds=1` and `executions_per_trial=1`. Defaults to
            None: every trial trains all its epochs.
        **kwargs: Keyword arguments of `keras_tuner.Tuner`.
    """

    def __init__(self, *args: Any, constraints: Constraints = None, folds: int = 1,
                 keep_checkpoints: int | None = None,
                 early_stopping: str | MedianStopping | None = None, **kwargs: Any):
        if isinstance(folds, bool) or not isinstance(folds, int) or \
                not 1 <= folds <= MAX_FOLDS:
            raise ValueError(f"`folds` must be an integer from 1 to {MAX_FOLDS}, got {folds!r}.")
        check_keep_checkpoints(keep_checkpoints)
        hypermodel = inspect.signature(super().__init__).bind_partial(
            *args, **kwargs).arguments.get("hypermodel")
        if hypermodel is None and not _user_defines_run_trial(type(self)):
            # KerasTuner's own guard compares `run_trial` with `Tuner.run_trial`,
            # which evokt's tuners override.
            raise ValueError(NO_HYPERMODEL_MESSAGE)
        self.constraints = dict(constraints or {})
        self.folds = folds
        self.keep_checkpoints = keep_checkpoints
        # The measures this search has warned it cannot take (see `ModelMeasures`).
        self._unmeasured: set[str] = set()
        # The data of the last `search`, for refitting with `folds` > 1.
        self._search_data: tuple[tuple, dict] | None = None
        rule = stopping_rule(early_stopping)
        compat.install()  # before the project is reloaded
        super().__init__(*args, **kwargs)
        if rule is not None and (folds > 1 or self.executions_per_trial > 1
                                 or len(objectives_of(self.oracle.objective)) > 1):
            raise ValueError("`early_stopping` needs one objective, `folds=1` and "
                             "`executions_per_trial=1`.")
        if _is_worker():
            # In place of KerasTuner's client: the chief's token, and the
            # trials' files through the chief (no shared file system needed).
            self.oracle = ChiefClient(self.oracle._oracle, self.project_dir)
        else:
            install_epoch_reports(self.oracle, rule)

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        self.remember_search_data(*fit_args, **fit_kwargs)
        super().search(*fit_args, **fit_kwargs)

    def remember_search_data(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """The data a cross-validated search's models are refitted on (`search`
        remembers its own; a distributed chief, which does not call it, is told)."""
        self._search_data = (fit_args, fit_kwargs)

    def run_trial(self, trial: trial_module.Trial, *args: Any, **kwargs: Any):
        # Before KerasTuner's own callbacks, so the measures are in the logs
        # it reports to the oracle and checkpoints by.
        kwargs["callbacks"] = [*kwargs.get("callbacks", []),
                               ModelMeasures(self._required_measures(), self._unmeasured)]
        if self.folds == 1:
            return super().run_trial(trial, *args, **kwargs)
        return self._cross_validate(trial, *args, **kwargs)

    def on_epoch_end(self, trial: trial_module.Trial, model: keras.Model, epoch: int,
                     logs: dict | None = None) -> None:
        """Reports the epoch's metrics to the oracle (see `report_epoch`), and stops
        training when the oracle stops the trial (it then ends it `STOPPED`).

        Not with cross-validation or several executions per trial: their
        metrics are means, known at the end.
        """
        super().on_epoch_end(trial, model, epoch, logs=logs)
        if self.folds == 1 and self.executions_per_trial == 1 and report_epoch(
                self.oracle, trial.trial_id, epoch, logs):
            model.stop_training = True

    def _run_and_update_trial(self, trial: trial_module.Trial, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            # With the epochs reported, KerasTuner skips its own report at the
            # end, warning as if user code had reported them.
            warnings.filterwarnings("ignore", "The use case of calling", DeprecationWarning)
            super()._run_and_update_trial(trial, *args, **kwargs)

    def _required_measures(self) -> set[str]:
        """The measured metrics this search cannot do without: its objectives
        and constraints among them."""
        needed = {objective.name for objective in objectives_of(self.oracle.objective)}
        return (needed | set(self.constraints)) & set(MEASURED_METRICS)

    def _cross_validate(self, trial: trial_module.Trial, x: Any, y: Any, **kwargs: Any):
        """One model per fold, trained on the other folds and validated on it;
        the trial's metrics are their mean, epoch by epoch."""
        kwargs.pop("validation_data", None)
        callbacks = kwargs.pop("callbacks")
        x, y = np.asarray(x), np.asarray(y)
        histories = []
        for training, held_out in fold_indices(y, self.folds, self.oracle.seed):
            model = self._try_build(trial.hyperparameters)
            histories.append(self.hypermodel.fit(
                trial.hyperparameters, model, x[training], y[training],
                validation_data=(x[held_out], y[held_out]),
                callbacks=self._deepcopy_callbacks(callbacks), **kwargs))
        return mean_history(histories)

    def load_model(self, trial: trial_module.Trial) -> keras.Model:
        """The trial's model; with `folds` > 1, refitted on all the search's
        data for the trial's best mean number of epochs; likewise, on the
        search's training data, a trial whose checkpoint `keep_checkpoints`
        deleted."""
        # Built from fresh weights, not from the checkpoint a Hyperband trial
        # continued: its own overwrites them, and the parent's may be gone.
        hyperparameters = trial.hyperparameters.copy()
        hyperparameters.values.pop(PARENT_TRIAL, None)
        if self.folds == 1:
            if self.keep_checkpoints is None or self.has_checkpoint(trial.trial_id):
                model = self._try_build(hyperparameters)
                self.restore_checkpoint(model, trial.trial_id)
                return model
            warnings.warn(
                f"Trial {trial.trial_id}'s checkpoint was deleted (`keep_checkpoints`), "
                "since it ranked below the best then; its model is retrained from its "
                "hyperparameters.", stacklevel=2)
        if self._search_data is None:
            raise ValueError("This trial's model is refitted on the search's data: run "
                             "`search` first (or `remember_search_data`).")
        (x, y, *_), fit_kwargs = self._search_data
        fit_kwargs = {key: value for key, value in fit_kwargs.items()
                      if key not in ("validation_data", "callbacks", "initial_epoch")}
        fit_kwargs["epochs"] = (trial.best_step or 0) + 1
        model = self._try_build(hyperparameters)
        self.hypermodel.fit(hyperparameters, model, x, y, **fit_kwargs)
        return model

    def has_checkpoint(self, trial_id: str) -> bool:
        """Whether the trial's checkpoint is on disk.

        Args:
            trial_id: The trial.
        """
        return os.path.exists(self._get_checkpoint_fname(trial_id))

    def on_trial_end(self, trial: trial_module.Trial) -> None:
        super().on_trial_end(trial)
        # A worker's oracle is the chief's, remote: the chief prunes (see
        # `evokt.search.distributed.run_chief`).
        if not _is_worker():
            self.prune_checkpoints()

    def _build_hypermodel(self, hp: keras_tuner.HyperParameters):
        parent_id = hp.values.get(PARENT_TRIAL)
        if parent_id is not None and _is_worker():
            # A promotion continues a trial another worker may have trained.
            self.oracle.fetch_trial(parent_id)
        return super()._build_hypermodel(hp)

    def prune_checkpoints(self) -> list[str]:
        """Deletes the checkpoints `keep_checkpoints` no longer keeps (none
        when it is None), crash-safely (see `evokt.oracles.retention`).

        Returns:
            The ids of the trials whose checkpoints were deleted.
        """
        if self.keep_checkpoints is None:
            return []
        retired = retire_checkpoints(self.oracle, self.keep_checkpoints, self.constraints,
                                     self.has_checkpoint)
        for trial_id in retired:
            # One file (Keras 3's `checkpoint.weights.h5`), so one unlink: it is
            # there whole or gone.
            try:
                os.unlink(self._get_checkpoint_fname(trial_id))
            except FileNotFoundError:
                pass
        return retired

    def restore_checkpoint(self, model: keras.Model, trial_id: str) -> None:
        """Loads a trial's best checkpoint into a model just built for it.

        As KerasTuner's `load_model` does, with two differences: a subclassed
        model, which its saved build config leaves unbuilt, is built by one
        call on zeros of that shape (KerasTuner's own tuners cannot reload
        it), and Keras' warning that the optimizer's state is not restored
        (models are reloaded for inference, or to train with a fresh
        optimizer as Hyperband does) is silenced.

        Args:
            model: A model built from the trial's hyperparameters.
            trial_id: The trial whose checkpoint to load (the model's own,
                or a promoted trial's parent).
        """
        if backend.config.multi_backend() and not model.built:
            build_config = utils.load_json(self._get_build_config_fname(trial_id))
            model.build_from_config(build_config)
            shape = build_config.get("input_shape")
            if not model.built and isinstance(shape, list | tuple) and \
                    all(isinstance(size, int) for size in shape[1:]):
                model(np.zeros((1, *shape[1:]), dtype="float32"))
        with warnings.catch_warnings(), maybe_distribute(self.distribution_strategy):
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            model.load_weights(self._get_checkpoint_fname(trial_id))

    def _deepcopy_callbacks(self, callbacks: list) -> list:
        # KerasTuner copies the callbacks for each execution, and names them
        # all when one cannot be copied: evokt's own are left out of that
        # message (they are always copied, and last).
        own = [callback for callback in callbacks if isinstance(callback, ModelMeasures)]
        users = [callback for callback in callbacks if not isinstance(callback, ModelMeasures)]
        return [*super()._deepcopy_callbacks(users), *copy.deepcopy(own)]

    def recommended_trials(self) -> list[trial_module.Trial]:
        """Scored trials within the constraints, best first (front by front, for
        several objectives)."""
        return recommended_trials(self.oracle, self.constraints)

    def pareto_front(self) -> list[trial_module.Trial]:
        """The non-dominated trials within the constraints, ordered by the first
        objective (best first). For one objective, the best trial."""
        return pareto_front(self.recommended_trials(), objectives_of(self.oracle.objective))


def _user_defines_run_trial(tuner_class: type) -> bool:
    """Whether the `run_trial` a tuner class runs is the user's, not one of
    KerasTuner's or evokt's own tuners'."""
    owner = next(cls for cls in tuner_class.__mro__ if "run_trial" in vars(cls))
    return owner.__module__.split(".")[0] not in ("keras_tuner", _PACKAGE)


def _is_worker() -> bool:
    """Whether this process is a worker of a distributed search."""
    return dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()


@functools.cache
def evokt_tuner(tuner_class: type[keras_tuner.Tuner]) -> type[keras_tuner.Tuner]:
    """`tuner_class` as an `EvoktTuner` (itself if it is one already)."""
    if issubclass(tuner_class, EvoktTuner):
        return tuner_class
    return type(f"Evokt{tuner_class.__name__}", (EvoktTuner, tuner_class), {})
