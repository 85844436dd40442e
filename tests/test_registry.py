"""All six strategies run real training through the one registry."""

import pytest

from hypermodels import data
from hypermodels import default_objective
from hypermodels import hypermodel_for
from tuner_ext import STRATEGIES
from tuner_ext import create_tuner
from tuner_ext.observe import SearchObserver


class Recorder(SearchObserver):
    def __init__(self):
        self.events = []

    def trial_started(self, oracle, trial):
        self.events.append(("start", trial.trial_id))

    def trial_ended(self, oracle, trial):
        self.events.append(("end", trial.trial_id, trial.status))


@pytest.fixture(scope="module")
def iris():
    return data.load_builtin("iris")


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategy_runs_the_same_hypermodel_for_max_trials(strategy, iris, tmp_path):
    recorder = Recorder()
    tuner = create_tuner(
        strategy,
        hypermodel_for(iris, "mlp", max_layers=2),
        objective=default_objective(iris.task),
        max_trials=3,
        epochs=2,
        seed=1,
        directory=str(tmp_path),
        project_name="p",
        overwrite=False,
        observer=recorder,
    )
    tuner.search(iris.x_train, iris.y_train, validation_data=(iris.x_val, iris.y_val),
                 epochs=2, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 3
    assert all(trial.status == "COMPLETED" for trial in trials)
    assert [event[0] for event in recorder.events] == ["start", "end"] * 3
    best = tuner.get_best_models(1)[0]
    assert best.predict(iris.x_val[:3], verbose=0).shape == (3, 3)


def test_strategy_options_reach_the_oracle(iris, tmp_path):
    tuner = create_tuner(
        "genetic", hypermodel_for(iris), objective="val_accuracy", max_trials=10, epochs=1,
        seed=0, directory=str(tmp_path), project_name="p", overwrite=False,
        options={"population_size": 6, "sample_size": 3, "crossover_prob": 0.5},
    )
    assert (tuner.oracle.population_size, tuner.oracle.sample_size) == (6, 3)
    assert tuner.oracle.crossover_prob == 0.5


def test_unknown_strategy_and_options_are_refused_with_the_valid_ones_named(iris, tmp_path):
    common = dict(objective="val_accuracy", max_trials=2, epochs=1, seed=0,
                  directory=str(tmp_path), project_name="p", overwrite=False)
    with pytest.raises(ValueError, match="choose one of genetic, greedy"):
        create_tuner("annealing", hypermodel_for(iris), **common)
    with pytest.raises(ValueError, match="takes no option population_size; its options are"):
        create_tuner("random", hypermodel_for(iris), options={"population_size": 4}, **common)
