"""`TensorBoardTracker`: a search's trials in TensorBoard, HParams tab included.

Under its log directory, every trial has a folder of its own, `<trial id>/`,
holding one scalar per metric per epoch (step = epoch) and the HParams
plugin's session: the trial's hyperparameter values when it starts, its
status when it ends. The log directory itself holds the plugin's experiment:
every hyperparameter of the search space with its domain, and the metrics.
TensorBoard's HParams tab then lists every trial with its values and metrics.

It is an observer, not a Keras callback, so the search's own process writes
every log, also when workers on other machines train the trials. A resumed
search writes new event files beside the old ones; TensorBoard reads them all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras_tuner
import tensorflow as tf
from keras_tuner.engine import trial as trial_module
from keras_tuner.src.engine.tuner_utils import convert_hyperparams_to_hparams
from tensorboard.plugins.hparams import api as hparams_api
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import summary

from evokt.oracles.early_stopping import recorded_epochs
from evokt.search.observe import SearchObserver

# KerasTuner's trial statuses that ended with a score; others ended failed.
_SCORED = ("COMPLETED", "STOPPED")


class TensorBoardTracker(SearchObserver):
    """Writes a search's trials as TensorBoard logs.

    Args:
        log_dir: The folder to write into (`tensorboard --logdir log_dir`).
        metrics: The metrics the HParams tab shows as columns, such as
            `val_accuracy` (every metric is logged as a scalar anyway).
    """

    def __init__(self, log_dir: str, metrics: Sequence[str]):
        self.log_dir = log_dir
        self.metrics = list(metrics)
        # Trial id -> its open summary writer, while it runs.
        self._writers: dict[str, Any] = {}
        # The trials this process logged epochs of.
        self._reported: set[str] = set()

    def search_started(self, oracle: keras_tuner.Oracle) -> None:
        # KerasTuner's conversion takes only active values; with every value
        # set, every hyperparameter of the space has its domain.
        space = oracle.get_space()
        for hyperparameter in space.space:
            space.values.setdefault(hyperparameter.name, hyperparameter.default)
        hparams = list(convert_hyperparams_to_hparams(space, hparams_api))
        with tf.summary.create_file_writer(self.log_dir).as_default():
            hparams_api.hparams_config(
                hparams=hparams, metrics=[hparams_api.Metric(name) for name in self.metrics])

    def trial_started(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        with self._writer(trial).as_default():
            hparams_api.hparams(trial.hyperparameters.values, trial_id=trial.trial_id)

    def epoch_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial, epoch: int,
                    metrics: dict[str, float]) -> None:
        writer = self._writer(trial)
        with writer.as_default():
            for name, value in metrics.items():
                tf.summary.scalar(name, value, step=epoch)
        writer.flush()
        self._reported.add(trial.trial_id)

    def trial_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        status = api_pb2.STATUS_SUCCESS if trial.status in _SCORED else api_pb2.STATUS_FAILURE
        writer = self._writers.pop(trial.trial_id, None) or self._open(trial)
        with writer.as_default():
            if trial.trial_id not in self._reported:
                # Reported once at its end (cross-validation): the oracle's
                # record is its history.
                for name, step, value in recorded_epochs(trial):
                    tf.summary.scalar(name, value, step=step)
            # The session's end, as the plugin's own Keras callback writes it.
            tf.summary.experimental.write_raw_pb(
                summary.session_end_pb(status).SerializeToString(), step=0)
        writer.close()
        self._reported.discard(trial.trial_id)

    def _writer(self, trial: trial_module.Trial) -> Any:
        """The trial's open writer (opened again for a trial resumed mid-way)."""
        if trial.trial_id not in self._writers:
            self._writers[trial.trial_id] = self._open(trial)
        return self._writers[trial.trial_id]

    def _open(self, trial: trial_module.Trial) -> Any:
        return tf.summary.create_file_writer(os.path.join(self.log_dir, trial.trial_id))
