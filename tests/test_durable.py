import json
import os

import pytest

from tuner_ext import durable


def test_a_failed_write_leaves_the_previous_file_whole_and_no_temporary(tmp_path):
    path = str(tmp_path / "oracle.json")
    durable.write_json_atomically(path, {"end_order": ["0", "1"]})
    with pytest.raises(TypeError):
        durable.write_json_atomically(path, {"bad": object()})
    with open(path) as file:
        assert json.load(file) == {"end_order": ["0", "1"]}
    assert os.listdir(tmp_path) == ["oracle.json"]


def test_keras_tuner_state_files_go_through_the_atomic_writer(tmp_path):
    import tuner_ext.evolution  # noqa: F401  (installs the writer)
    from keras_tuner.src import utils

    assert utils.save_json is durable.write_json_atomically
    text = utils.save_json(str(tmp_path / "trial.json"), {"trial_id": "0"})
    assert json.loads(text) == {"trial_id": "0"}
