"""`MLflowTracker`: a search as MLflow runs (the `mlflow` extra).

A search is a parent run, named after its model; each trial a child run
nested under it (MLflow's `mlflow.parentRunId` tag) with the trial's
hyperparameters as params, its metrics epoch by epoch (step = epoch), and
tags `trial_id`, `status` and `score`. When the search ends, the exported
model (the output folder: `model.keras`, `best.json`, and any other format
written there) is logged as the parent run's artifacts, under `model/`.

The run ids are kept in the project directory (`mlflow.json`), so a resumed
search adds to the same parent run, and a trial run again after a crash to
its own child run. Runs go to the experiment `MLFLOW_EXPERIMENT_NAME` names,
else to MLflow's Default one.

Once the runs are open, an MLflow call that fails (its server unreachable)
is logged as a warning and the search goes on: tracking never costs a search.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import keras_tuner
from keras_tuner.engine import trial as trial_module
from mlflow import MlflowClient
from mlflow.entities import Experiment
from mlflow.entities import Metric
from mlflow.entities import Param
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from evokt.files import write_json_atomically
from evokt.oracles.early_stopping import recorded_epochs
from evokt.search.errors import TrackingError
from evokt.search.layout import BEST_FILE
from evokt.search.layout import MLFLOW_RUNS_FILE
from evokt.search.observe import SearchObserver

logger = logging.getLogger("evokt.tracking")

# Where the exported model goes among the parent run's artifacts.
MODEL_ARTIFACTS = "model"
# MLflow's run status for each way a trial ends (KerasTuner's statuses).
_RUN_STATUS = {"COMPLETED": "FINISHED", "STOPPED": "FINISHED"}
# MLflow's limit on a tag's value, in characters.
_MAX_TAG = 5000
# MLflow's error code for a run its store does not have.
_MISSING = "RESOURCE_DOES_NOT_EXIST"


def _milliseconds() -> int:
    return int(time.time() * 1000)


def _no_runs() -> dict[str, Any]:
    return {"experiment": None, "parent": None, "trials": {}, "ended": []}


class MLflowTracker(SearchObserver):
    """Logs a search to an MLflow tracking server or store.

    Args:
        tracking_uri: Where: `http://host:5000`, `sqlite:///mlflow.db`,
            `file:./mlruns`, ... (as `mlflow.set_tracking_uri` takes it).
        run_name: The parent run's name (the model's).
        project_dir: The search's project directory, which keeps the run ids.
        output_dir: Where the search exports its model, logged at the end.
        params: The search's options, the parent run's params.

    Raises:
        TrackingError: The store is unusable (MLflow's message says why).
    """

    def __init__(self, tracking_uri: str, run_name: str, project_dir: str, output_dir: str,
                 params: dict[str, Any]):
        self.tracking_uri = tracking_uri
        self.run_name = run_name
        self.output_dir = output_dir
        self.params = params
        self._runs_file = os.path.join(project_dir, MLFLOW_RUNS_FILE)
        # experiment and parent: the parent run's; trials: trial id -> its
        # run's id; ended: the trials whose run was ended.
        self._runs: dict[str, Any] = _no_runs()
        # The trials this process logged epochs of.
        self._reported: set[str] = set()
        with self._refused():
            self.client = MlflowClient(tracking_uri)

    @contextlib.contextmanager
    def _refused(self) -> Iterator[None]:
        """MLflow's refusal as a `TrackingError` (before the search has started)."""
        try:
            yield
        except MlflowException as error:
            raise TrackingError(f"mlflow {self.tracking_uri}: {error.message}") from None

    @contextlib.contextmanager
    def _tolerated(self, what: str) -> Iterator[None]:
        """MLflow's refusal as a warning (while the search runs)."""
        try:
            yield
        except (MlflowException, OSError) as error:
            logger.warning("MLflow could not log %s: %s", what, error)

    def search_started(self, oracle: keras_tuner.Oracle) -> None:
        with self._refused():
            self._runs = self._saved_runs()
            if self._runs["parent"] is None:
                self._runs = self._new_parent()
                self._save()
            else:
                self.client.update_run(self._runs["parent"], status="RUNNING")
        # Trials the oracle ended while no process logged them (one killed
        # between the two records).
        for trial_id in oracle.end_order:
            if trial_id not in self._runs["ended"]:
                self.trial_ended(oracle, oracle.trials[trial_id])

    def trial_started(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        with self._tolerated(f"trial {trial.trial_id}'s start"):
            self.client.update_run(self._child(trial), status="RUNNING")

    def epoch_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial, epoch: int,
                    metrics: dict[str, float]) -> None:
        with self._tolerated(f"trial {trial.trial_id}'s epoch {epoch}"):
            now = _milliseconds()
            self.client.log_batch(self._child(trial), metrics=[
                Metric(name, float(value), now, epoch) for name, value in metrics.items()])
            self._reported.add(trial.trial_id)

    def trial_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        with self._tolerated(f"trial {trial.trial_id}'s end"):
            run_id = self._child(trial)
            if trial.trial_id not in self._reported:
                # Reported once at its end (cross-validation), or ended while
                # no process logged it: the oracle's record is its history.
                now = _milliseconds()
                self.client.log_batch(run_id, metrics=[
                    Metric(name, value, now, step)
                    for name, step, value in recorded_epochs(trial)])
            self._reported.discard(trial.trial_id)
            tags = {"status": trial.status, "score": str(trial.score)}
            if trial.message:
                tags["message"] = trial.message[-_MAX_TAG:]
            for key, value in tags.items():
                self.client.set_tag(run_id, key, value)
            self.client.set_terminated(run_id, _RUN_STATUS.get(trial.status, "FAILED"))
            if trial.trial_id not in self._runs["ended"]:
                self._runs["ended"].append(trial.trial_id)
                self._save()

    def search_ended(self, oracle: keras_tuner.Oracle) -> None:
        parent = self._runs["parent"]
        with self._tolerated("the exported model"):
            self.client.log_artifacts(parent, self.output_dir, MODEL_ARTIFACTS)
            with open(os.path.join(self.output_dir, BEST_FILE), encoding="utf-8") as file:
                best = json.load(file)
            self.client.set_tag(parent, "best_trial", best["trial_id"])
            for objective in best["objectives"]:
                self.client.log_metric(parent, f"best_{objective['name']}", objective["value"])
        with self._tolerated("the search's end"):
            self.client.set_terminated(parent, "FINISHED")

    def _saved_runs(self) -> dict[str, Any]:
        """The runs a previous run of this search opened, if the store still has them."""
        try:
            with open(self._runs_file, encoding="utf-8") as file:
                runs = json.load(file)
        except FileNotFoundError:
            return _no_runs()
        try:
            self.client.get_run(runs["parent"])
        except MlflowException as error:
            if error.error_code != _MISSING:
                raise
            logger.warning("MLflow's store no longer has run %s; the search gets a new one",
                           runs["parent"])
            return _no_runs()
        return runs

    def _new_parent(self) -> dict[str, Any]:
        """A new parent run, in the experiment `MLFLOW_EXPERIMENT_NAME` names."""
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or Experiment.DEFAULT_EXPERIMENT_NAME
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment \
            else self.client.create_experiment(name)
        run_id = self.client.create_run(experiment_id, run_name=self.run_name).info.run_id
        self._log_params(run_id, self.params)
        return {**_no_runs(), "experiment": experiment_id, "parent": run_id}

    def _child(self, trial: trial_module.Trial) -> str:
        """The trial's run, created (with its params) the first time."""
        run_id = self._runs["trials"].get(trial.trial_id)
        if run_id is not None:
            return run_id
        run_id = self.client.create_run(
            self._runs["experiment"], run_name=f"trial {trial.trial_id}",
            tags={MLFLOW_PARENT_RUN_ID: self._runs["parent"], "trial_id": trial.trial_id},
        ).info.run_id
        self._log_params(run_id, trial.hyperparameters.values)
        self._runs["trials"][trial.trial_id] = run_id
        self._save()
        return run_id

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        self.client.log_batch(run_id, params=[
            Param(name, str(value)) for name, value in params.items()])

    def _save(self) -> None:
        write_json_atomically(self._runs_file, self._runs)
