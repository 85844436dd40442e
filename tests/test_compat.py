"""evokt's fixes to KerasTuner: atomic state files and a quiet gRPC conversion."""

import json
import os

import pytest
from conftest import conditional_space
from keras_tuner.engine.hyperparameters import HyperParameters
from keras_tuner.src import utils

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
