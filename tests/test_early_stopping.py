"""Each epoch in the oracle, and the median stopping rule: on scripted curves through a real
oracle (no training), and in real searches."""

import json
import os

import keras_tuner
import numpy as np
import pytest
from helpers import evokt
from keras_tuner.engine import trial as trial_module

from evokt import GeneticSearch
from evokt.hypermodels import MLPHyperModel
from evokt.hypermodels.data import load_builtin
from evokt.oracles.early_stopping import MedianStopping
from evokt.oracles.early_stopping import ReportEpochs
from evokt.oracles.early_stopping import install_epoch_reports
from evokt.oracles.early_stopping import stopped_epoch
from evokt.oracles.genetic import GeneticOracle

STOPPED = trial_module.TrialStatus.STOPPED
COMPLETED = trial_module.TrialStatus.COMPLETED


def scripted_oracle(tmp_path, oracle_class=keras_tuner.oracles.RandomSearchOracle, **rule):
    hp = keras_tuner.HyperParameters()
    hp.Int("units", 1, 1000)
    oracle = oracle_class(objective=keras_tuner.Objective("val_loss", "min"), max_trials=50,
                          hyperparameters=hp, seed=1)
    oracle._set_project_dir(str(tmp_path), "scripted")
    reports = install_epoch_reports(oracle, MedianStopping(**rule))
    return oracle, reports


def run_curve(oracle, curve, tuner_id="worker"):
    """Reports `curve` (val_loss by epoch) until the oracle stops the trial; ends it.

    Returns:
        The trial as the oracle recorded it.
    """
    trial = oracle.create_trial(tuner_id)
    for epoch, value in enumerate(curve):
        answer = oracle.update_trial(trial.trial_id, {"val_loss": value}, step=epoch)
        if answer.status == STOPPED:
            break
    trial.status = answer.status if answer.status == STOPPED else COMPLETED
    oracle.end_trial(trial)
    return oracle.trials[trial.trial_id]


def test_the_median_rule_stops_the_curves_worse_than_the_median_at_their_epoch(tmp_path):
    oracle, _ = scripted_oracle(tmp_path, min_epochs=2, min_trials=3)
    # Three completed curves first: no trial is stopped before three have completed.
    first = [run_curve(oracle, [1.0 + k, 0.8 + k, 0.6 + k, 0.5 + k]) for k in (0.0, 0.1, 0.2)]
    assert [trial.status for trial in first] == [COMPLETED] * 3
    # The median at epoch e is the second curve's value: 0.9, 0.7, 0.6.
    late = run_curve(oracle, [2.0, 1.5, 0.65, 0.4])   # best so far above the median until 2
    good = run_curve(oracle, [0.5, 0.4, 0.3, 0.2])    # always below the median
    bad = run_curve(oracle, [3.0, 3.0, 3.0, 3.0])     # above it at every epoch
    assert (late.status, stopped_epoch(late)) == (STOPPED, 1)
    assert good.status == COMPLETED and stopped_epoch(good) is None
    assert (bad.status, stopped_epoch(bad)) == (STOPPED, 1)
    # Stopped trials are scored by their best value before the stop, and never recommended.
    assert bad.score == 3.0 and late.score == 1.5
    assert [trial.trial_id for trial in oracle.get_best_trials(10)[:4]] == [
        good.trial_id, first[0].trial_id, first[1].trial_id, first[2].trial_id]
    # The history of every epoch is in the trial's saved state.
    with open(os.path.join(str(tmp_path), "scripted", f"trial_{good.trial_id}",
                           "trial.json")) as file:
        saved = json.load(file)
    steps = [observation["step"] for observation in
             saved["metrics"]["metrics"]["val_loss"]["observations"]]
    assert steps == [0, 1, 2, 3]


def test_min_epochs_and_min_trials_hold_the_rule_back(tmp_path):
    oracle, _ = scripted_oracle(tmp_path, min_epochs=3, min_trials=2)
    run_curve(oracle, [1.0, 0.9, 0.8, 0.7])
    alone = run_curve(oracle, [5.0, 5.0, 5.0, 5.0])  # one completed trial: too few to judge
    assert alone.status == COMPLETED
    late = run_curve(oracle, [5.0, 5.0, 5.0, 5.0])   # two now, and only after its third epoch
    assert (late.status, stopped_epoch(late)) == (STOPPED, 2)


def test_a_trial_trained_again_starts_its_history_anew(tmp_path):
    oracle, _ = scripted_oracle(tmp_path)
    trial = oracle.create_trial("worker")
    for epoch, value in enumerate([0.9, 0.8, 0.7]):
        oracle.update_trial(trial.trial_id, {"val_loss": value}, step=epoch)
    # Its worker died; the trial is trained again from its first epoch.
    for epoch, value in enumerate([0.6, 0.5]):
        oracle.update_trial(trial.trial_id, {"val_loss": value}, step=epoch)
    history = oracle.trials[trial.trial_id].metrics.get_history("val_loss")
    assert [(observation.step, observation.value) for observation in history] == [
        (0, [0.6]), (1, [0.5])]


def test_listeners_hear_every_recorded_epoch_with_the_decision(tmp_path):
    oracle, reports = scripted_oracle(tmp_path, min_epochs=1, min_trials=1)
    heard = []
    reports.add_listener(lambda trial, epoch, metrics: heard.append(
        (trial.trial_id, epoch, metrics["val_loss"], trial.status)))
    done = run_curve(oracle, [1.0, 0.5])
    stopped = run_curve(oracle, [2.0, 1.0])
    assert heard == [(done.trial_id, 0, 1.0, "RUNNING"), (done.trial_id, 1, 0.5, "RUNNING"),
                     (stopped.trial_id, 0, 2.0, STOPPED)]


def test_evolution_breeds_from_stopped_trials_but_never_recommends_them(tmp_path):
    oracle, _ = scripted_oracle(tmp_path, GeneticOracle, min_epochs=1, min_trials=1)
    done = run_curve(oracle, [1.0, 0.5])
    stopped = run_curve(oracle, [2.0, 1.0])
    assert stopped.status == STOPPED
    members = {trial.trial_id for trial in oracle.completed_trials()}
    assert members == {done.trial_id, stopped.trial_id}
    assert oracle.get_best_trials(1)[0].trial_id == done.trial_id


def iris_search(tmp_path, name, objective="val_accuracy", **kwargs):
    iris = load_builtin("iris")
    tuner = GeneticSearch(
        MLPHyperModel(iris.input_shape, num_classes=3, feature_mean=iris.feature_mean,
                      feature_variance=iris.feature_variance),
        objective=objective, seed=4, directory=str(tmp_path), project_name=name, **kwargs)
    return tuner, iris


# Two networks that learn iris in a few epochs, then one that cannot (a tiny layer, the
# smallest learning rate, half its units dropped): the median rule must stop the third.
LEARNING = [{"num_layers": 2, "units_0": units, "activation_0": "relu", "units_1": units,
             "activation_1": "relu", "learning_rate": 0.01, "dropout": 0.0,
             "batch_norm": False} for units in (64, 32)]
HOPELESS = {"num_layers": 1, "units_0": 16, "activation_0": "tanh", "learning_rate": 0.0001,
            "dropout": 0.5, "batch_norm": False}


def assert_the_hopeless_trial_stopped(oracle, epochs):
    """The two learning networks trained every epoch; the hopeless one stopped after its
    third, and is never recommended."""
    by_rate = {trial.hyperparameters.values["learning_rate"]: trial
               for trial in oracle.trials.values()}
    hopeless = by_rate.pop(HOPELESS["learning_rate"])
    assert (hopeless.status, stopped_epoch(hopeless)) == (STOPPED, 2), \
        hopeless.metrics.get_history("val_loss")
    assert [o.step for o in hopeless.metrics.get_history("val_loss")] == [0, 1, 2]
    for trial in by_rate.values():
        assert trial.status == COMPLETED
        assert [o.step for o in trial.metrics.get_history("val_loss")] == list(range(epochs))
    assert oracle.get_best_trials(1)[0].status == COMPLETED


def test_a_real_search_records_every_epoch_and_keeps_it_across_a_resume(tmp_path):
    tuner, iris = iris_search(tmp_path, "history", max_trials=2)
    tuner.search(iris.x_train, iris.y_train, validation_data=(iris.x_val, iris.y_val),
                 epochs=3, verbose=0)
    for trial in tuner.oracle.trials.values():
        assert trial.status == COMPLETED
        for name in ("loss", "val_loss", "val_accuracy", "params"):
            assert [o.step for o in trial.metrics.get_history(name)] == [0, 1, 2], name
        # The score is the best epoch's, as KerasTuner's own report at the end gave it.
        values = [o.value[0] for o in trial.metrics.get_history("val_accuracy")]
        assert trial.score == max(values)
        assert trial.best_step == int(np.argmax(values))
    resumed, _ = iris_search(tmp_path, "history", max_trials=2)
    for trial_id, trial in tuner.oracle.trials.items():
        reloaded = resumed.oracle.trials[trial_id]
        assert [o.value for o in reloaded.metrics.get_history("val_loss")] == [
            o.value for o in trial.metrics.get_history("val_loss")]


def test_a_real_search_stops_the_hopeless_trial_and_exports_a_fully_trained_one(tmp_path):
    tuner, iris = iris_search(tmp_path, "stopping", objective="val_loss", max_trials=3,
                              initial_hps=[*LEARNING, HOPELESS],
                              early_stopping=MedianStopping(min_epochs=3, min_trials=2))
    tuner.search(iris.x_train, iris.y_train, validation_data=(iris.x_val, iris.y_val),
                 epochs=5, verbose=0)
    assert_the_hopeless_trial_stopped(tuner.oracle, 5)
    assert tuner.get_best_models(1)[0] is not None


def test_a_plain_keras_tuner_reports_its_epochs_through_the_callback(tmp_path):
    iris = load_builtin("iris")
    oracle = GeneticOracle(objective=keras_tuner.Objective("val_loss", "min"), max_trials=3,
                           seed=4, initial_hps=[*LEARNING, HOPELESS])
    tuner = keras_tuner.Tuner(
        oracle=oracle, directory=str(tmp_path), project_name="plain",
        hypermodel=MLPHyperModel(iris.input_shape, num_classes=3,
                                 feature_mean=iris.feature_mean,
                                 feature_variance=iris.feature_variance))
    install_epoch_reports(tuner.oracle, MedianStopping(min_epochs=3, min_trials=2))
    with pytest.warns(DeprecationWarning, match="The use case of calling"):
        tuner.search(iris.x_train, iris.y_train, validation_data=(iris.x_val, iris.y_val),
                     epochs=5, verbose=0, callbacks=[ReportEpochs(tuner)])
    assert_the_hopeless_trial_stopped(tuner.oracle, 5)


def test_early_stopping_is_refused_where_it_cannot_compare_epochs(tmp_path):
    with pytest.raises(ValueError, match="`early_stopping` needs one objective"):
        iris_search(tmp_path, "folds", max_trials=2, early_stopping="median", folds=3)
    with pytest.raises(ValueError, match="`early_stopping` must be one of median"):
        iris_search(tmp_path, "unknown", max_trials=2, early_stopping="mean")
    result = evokt("search", "--dataset", "iris", "--early-stopping", "median", "--objective",
                   "val_accuracy", "--objective", "params:min", "--project-dir", "x",
                   cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "evokt: error: oracle_options.early_stopping: compares one objective epoch by epoch; "
        "not with several objectives or folds")
    hyperband = evokt("search", "--dataset", "iris", "--oracle", "hyperband", "--early-stopping",
                      "median", "--project-dir", "y", cwd=tmp_path)
    assert hyperband.returncode == 2
    assert "early_stopping" in hyperband.stderr
