"""evokt's fixes to KerasTuner: atomic state files and a quiet gRPC conversion."""

import json
import os

import keras_tuner
import pytest
from conftest import conditional_space
from conftest import continuous_space
from conftest import run_trials
from conftest import start_oracle
from conftest import values_key
from keras_tuner.engine.hyperparameters import HyperParameters
from keras_tuner.src import utils

from evokt import GeneticOracle
from evokt import compat


def test_a_failed_write_leaves_the_previous_file_whole_and_no_temporary(tmp_path):
    path = str(tmp_path / "oracle.json")
    compat.write_json_atomically(path, {"end_order": ["0", "1"]})
    with pytest.raises(TypeError):
        compat.write_json_atomically(path, {"bad": object()})
    with open(path) as file:
        assert json.load(file) == {"end_order": ["0", "1"]}
    assert os.listdir(tmp_path) == ["oracle.json"]


def test_keras_tuner_state_files_go_through_the_atomic_writer(tmp_path):
    compat.install()
    assert utils.save_json is compat.write_json_atomically
    text = utils.save_json(str(tmp_path / "trial.json"), {"trial_id": "0"})
    assert json.loads(text) == {"trial_id": "0"}


def test_conditions_cross_grpc_without_printing(capsys):
    compat.install()
    space = conditional_space()
    copy = HyperParameters.from_proto(space.to_proto())
    assert capsys.readouterr().out == ""
    assert {hp.name: hp.conditions for hp in copy.space} == {
        hp.name: hp.conditions for hp in space.space}


def test_synchronized_releases_the_oracle_lock_when_the_method_raises():
    from keras_tuner.src.engine import oracle as oracle_module

    from evokt.compat import synchronized

    class Oracle:
        @synchronized
        def save(self):
            raise OSError(28, "No space left on device")

        @synchronized
        def outer(self):
            return self.inner()

        @synchronized
        def inner(self):
            return "re-entered"

    oracle = Oracle()
    with pytest.raises(OSError):
        oracle.save()
    assert not oracle_module.LOCKS[oracle].locked()
    assert oracle_module.THREADS[oracle] is None
    assert oracle.outer() == "re-entered"


class Killed(BaseException):
    """The process's end, between two writes."""


ORACLES = {
    "random": lambda: keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("score", "max"), max_trials=5, seed=3,
        hyperparameters=continuous_space()),
    "genetic": lambda: GeneticOracle(
        objective=keras_tuner.Objective("score", "max"), max_trials=5, seed=3,
        hyperparameters=continuous_space(), population_size=2, sample_size=2),
}


@pytest.mark.parametrize("kind", ORACLES)
def test_a_trial_killed_in_its_creation_is_created_again_on_resume(tmp_path, kind):
    compat.install()
    uninterrupted = start_oracle(ORACLES[kind](), str(tmp_path / "whole"))
    expected = [values_key(t.hyperparameters.values) for t in run_trials(uninterrupted, 5)]

    directory = str(tmp_path / "killed")
    first = start_oracle(ORACLES[kind](), directory)
    head = run_trials(first, 2)

    def killed():
        raise Killed

    # The new trial's trial.json is written, the process dies before oracle.json.
    first.save = killed
    with pytest.raises(Killed):
        first.create_trial("tuner0")
    orphan = os.path.join(directory, "project", "trial_2")
    assert os.path.exists(os.path.join(orphan, "trial.json"))

    resumed = start_oracle(ORACLES[kind](), directory)
    resumed.reload()
    assert sorted(resumed.trials) == ["0", "1"] and not os.path.exists(orphan)
    tail = run_trials(resumed, 5)
    assert resumed.end_order == ["0", "1", "2", "3", "4"]
    assert all(trial.status == "COMPLETED" for trial in resumed.trials.values())
    assert [values_key(t.hyperparameters.values) for t in head + tail] == expected
