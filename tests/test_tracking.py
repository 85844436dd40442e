"""Searches logged to TensorBoard and MLflow, read back with their own readers.

TensorBoard's event files are read with its `EventAccumulator` and the
HParams plugin's own parsers; MLflow's runs come from a real MLflow file
store through `mlflow.search_runs` and `MlflowClient`. Nothing is mocked:
each test runs real searches, through `evokt search` or the service.
"""

import json
import os
import sys

import keras_tuner
import mlflow
import pytest
from conftest import conditional_space
from conftest import start_oracle
from helpers import epoch_histories
from helpers import evokt
from helpers import trial_statuses
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from service_helpers import AUTH
from service_helpers import make_app
from service_helpers import running_runner
from service_helpers import store_of
from service_helpers import wait_for_record
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata
from tensorboard.util import tensor_util

from evokt.search.observe import ObserverGroup
from evokt.search.observe import SearchObserver
from evokt.search.pipeline import run_search
from evokt.search.spec import SearchSpec
from evokt.search.tracking import trackers
from evokt.service.config import ConfigError
from evokt.service.layout import DataLayout
from evokt.service.tracking import check_tracking

EPOCHS = 2
# Metrics every iris trial reports each epoch, compared with its trial.json.
CURVES = ("val_accuracy", "val_loss", "accuracy", "loss")


@pytest.fixture(autouse=True)
def file_store(monkeypatch):
    """MLflow 3 refuses a file store unless it is asked for one, as these tests do."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def read_events(directory) -> EventAccumulator:
    events = EventAccumulator(str(directory), size_guidance={"tensors": 0})
    events.Reload()
    return events


def scalars(events: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(event.step, float(tensor_util.make_ndarray(event.tensor_proto)))
            for event in events.Tensors(tag)]


def recorded(project_dir, metric: str) -> dict[str, list[tuple[int, float]]]:
    """trial id -> [(epoch, value)] of `metric`, as the trials' trial.json hold it."""
    return {trial_id: [(step, values[0]) for step, values in history]
            for trial_id, history in epoch_histories(project_dir, metric).items()}


def assert_curves(got: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    assert [step for step, _ in got] == [step for step, _ in expected] == list(range(EPOCHS))
    assert [value for _, value in got] == pytest.approx([value for _, value in expected],
                                                        rel=1e-6)


def check_tensorboard(log_dir, project_dir) -> None:
    """The HParams experiment at `log_dir` lists the search space and the metrics;
    each trial's folder holds its curves, its values and its ending."""
    with open(os.path.join(project_dir, "oracle.json")) as file:
        space = [hp["config"]["name"] for hp in json.load(file)["hyperparameters"]["space"]]
    plugin = read_events(log_dir).PluginTagToContent(metadata.PLUGIN_NAME)
    experiment = metadata.parse_experiment_plugin_data(plugin[metadata.EXPERIMENT_TAG])
    assert sorted(info.name for info in experiment.hparam_infos) == sorted(space)
    assert set(CURVES) <= {info.name.tag for info in experiment.metric_infos}

    statuses = trial_statuses(project_dir)
    curves = {metric: recorded(project_dir, metric) for metric in CURVES}
    assert sorted(name for name in os.listdir(log_dir)
                  if os.path.isdir(os.path.join(log_dir, name))) == sorted(statuses)
    for trial_id, (status, _, values) in statuses.items():
        events = read_events(os.path.join(log_dir, trial_id))
        for metric in CURVES:
            assert_curves(scalars(events, metric), curves[metric][trial_id])
        plugin = events.PluginTagToContent(metadata.PLUGIN_NAME)
        start = metadata.parse_session_start_info_plugin_data(
            plugin[metadata.SESSION_START_INFO_TAG])
        assert {name: getattr(value, value.WhichOneof("kind"))
                for name, value in start.hparams.items()} == json.loads(values)
        end = metadata.parse_session_end_info_plugin_data(plugin[metadata.SESSION_END_INFO_TAG])
        assert status == "COMPLETED" and end.status == api_pb2.STATUS_SUCCESS


def mlflow_runs(tracking_uri: str, monkeypatch) -> tuple:
    """The one parent run in the store and its children by trial id."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    runs = mlflow.search_runs(experiment_names=["Default"], output_format="list")
    parents = [run for run in runs if MLFLOW_PARENT_RUN_ID not in run.data.tags]
    assert len(parents) == 1, [run.info.run_name for run in parents]
    children = {run.data.tags["trial_id"]: run for run in runs
                if run.data.tags.get(MLFLOW_PARENT_RUN_ID) == parents[0].info.run_id}
    assert len(children) == len(runs) - 1
    return parents[0], children


def check_mlflow(tracking_uri: str, project_dir, output_dir, name: str, monkeypatch):
    """One parent run named `name`, FINISHED, with the exported model; a child
    run per trial with its values, status, score and curves."""
    parent, children = mlflow_runs(tracking_uri, monkeypatch)
    assert parent.info.run_name == name and parent.info.status == "FINISHED"
    statuses = trial_statuses(project_dir)
    assert sorted(children) == sorted(statuses)
    client = MlflowClient(tracking_uri)
    curves = {metric: recorded(project_dir, metric) for metric in CURVES}
    for trial_id, (status, score, values) in statuses.items():
        run = children[trial_id]
        assert run.info.status == "FINISHED" and run.info.run_name == f"trial {trial_id}"
        assert run.data.params == {key: str(value) for key, value in json.loads(values).items()}
        assert run.data.tags["status"] == status
        assert float(run.data.tags["score"]) == pytest.approx(score)
        for metric in CURVES:
            history = client.get_metric_history(run.info.run_id, metric)
            assert_curves(sorted((point.step, point.value) for point in history),
                          curves[metric][trial_id])
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id, "model")}
    assert {"model/model.keras", "model/best.json"} <= artifacts
    with open(os.path.join(output_dir, "best.json")) as file:
        best = json.load(file)
    assert parent.data.tags["best_trial"] == best["trial_id"]
    return parent


def test_a_search_logs_every_trial_to_tensorboard_and_mlflow(tmp_path, monkeypatch):
    project, output, log_dir = tmp_path / "search", tmp_path / "iris-model", tmp_path / "tb"
    tracking_uri = f"file:{tmp_path / 'mlruns'}"
    result = evokt("search", "--dataset", "iris", "--hypermodel", "mlp", "--max-trials", "3",
                   "--epochs", str(EPOCHS), "--tensorboard", str(log_dir),
                   "--mlflow", tracking_uri, "--project-dir", str(project),
                   "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert len(trial_statuses(project)) == 3
    check_tensorboard(log_dir, project)
    parent = check_mlflow(tracking_uri, project, output, "iris-model", monkeypatch)
    assert parent.data.params["max_trials"] == "3" and parent.data.params["oracle"] == "genetic"


class StopAt(SearchObserver):
    """Interrupts the search as trial `trial_id` starts, as Ctrl-C would."""

    def __init__(self, trial_id: str):
        self.trial_id = trial_id

    def trial_started(self, oracle, trial) -> None:
        if trial.trial_id == self.trial_id:
            raise KeyboardInterrupt


def test_a_resumed_search_adds_to_the_same_runs(tmp_path, monkeypatch):
    project, output, log_dir = tmp_path / "search", tmp_path / "model", tmp_path / "tb"
    tracking_uri = f"file:{tmp_path / 'mlruns'}"
    spec = SearchSpec(dataset="iris", hypermodel="mlp", max_trials=3, epochs=EPOCHS,
                      tensorboard=str(log_dir), mlflow=tracking_uri)
    with pytest.raises(KeyboardInterrupt):
        run_search(spec, str(project), str(output), observer=StopAt("2"))
    first, children = mlflow_runs(tracking_uri, monkeypatch)
    assert first.info.status == "RUNNING" and sorted(children) == ["0", "1"]

    resumed = evokt("search", "--project-dir", str(project), "--output", str(output),
                    "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(trial_statuses(project)) == 3
    check_tensorboard(log_dir, project)
    parent = check_mlflow(tracking_uri, project, output, "model", monkeypatch)
    assert parent.info.run_id == first.info.run_id
    for trial_id in ("0", "1"):
        assert children[trial_id].info.run_id == \
            mlflow_runs(tracking_uri, monkeypatch)[1][trial_id].info.run_id


def test_the_service_logs_every_search_where_its_settings_say(tmp_path, monkeypatch):
    data_dir, log_dir = str(tmp_path / "data"), tmp_path / "tb"
    tracking_uri = f"file:{tmp_path / 'mlruns'}"
    app = make_app(data_dir)
    client = app.test_client()
    for field, setting in (("tensorboard", "EVOKT_TENSORBOARD_DIR"),
                           ("mlflow", "EVOKT_MLFLOW_TRACKING_URI")):
        refused = client.post("/v1/searches", headers=AUTH,
                              json={"dataset": "iris", field: str(tmp_path / "elsewhere")})
        assert refused.status_code == 400
        assert refused.json["error"].startswith(f"{field}: ") and setting in refused.json["error"]
    assert not (tmp_path / "elsewhere").exists()

    search = client.post("/v1/searches", headers=AUTH, json={
        "dataset": "iris", "hypermodel": "mlp", "max_trials": 2, "epochs": EPOCHS,
        "workers": 2, "model_name": "flowers"}).json
    settings = {"EVOKT_TENSORBOARD_DIR": str(log_dir), "EVOKT_MLFLOW_TRACKING_URI": tracking_uri}
    with running_runner(data_dir, env=settings):
        done = wait_for_record(store_of(app), search["id"],
                               lambda record: record["state"] not in ("PENDING", "RUNNING"))
    assert done["state"] == "SUCCEEDED", done["error"]
    layout = DataLayout(data_dir)
    check_tensorboard(log_dir / search["id"], layout.search_dir(search["id"]))
    check_mlflow(tracking_uri, layout.search_dir(search["id"]), layout.export_dir(search["id"]),
                 "flowers", monkeypatch)


def test_each_ending_is_logged_and_a_trial_reported_only_at_its_end_gets_its_record(
        tmp_path, monkeypatch):
    oracle = start_oracle(keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("score", "max"), max_trials=3,
        hyperparameters=conditional_space(), seed=0), str(tmp_path))
    log_dir, tracking_uri = tmp_path / "tb", f"file:{tmp_path / 'mlruns'}"
    spec = SearchSpec(dataset="iris", tensorboard=str(log_dir), mlflow=tracking_uri)
    observer = ObserverGroup(trackers(spec, "classification", str(tmp_path / "project"),
                                      str(tmp_path / "model"), "unit"))
    observer.search_started(oracle)
    for status in ("COMPLETED", "STOPPED", "FAILED"):
        trial = oracle.create_trial("tuner0")
        observer.trial_started(oracle, trial)
        if status == "COMPLETED":  # reported at its end only, as with cross-validation
            for epoch in range(EPOCHS):
                oracle.update_trial(trial.trial_id, {"score": 0.5 + epoch}, step=epoch)
        elif status == "STOPPED":  # one epoch reported, then stopped
            oracle.update_trial(trial.trial_id, {"score": 0.25}, step=0)
            observer.epoch_ended(oracle, trial, 0, {"score": 0.25})
        else:
            trial.message = "ValueError: the model cannot be built"
        trial.status = status
        oracle.end_trial(trial)
        observer.trial_ended(oracle, trial)

    expected = {"0": ("COMPLETED", [(0, 0.5), (1, 1.5)], api_pb2.STATUS_SUCCESS, "FINISHED"),
                "1": ("STOPPED", [(0, 0.25)], api_pb2.STATUS_SUCCESS, "FINISHED"),
                "2": ("FAILED", [], api_pb2.STATUS_FAILURE, "FAILED")}
    _, children = mlflow_runs(tracking_uri, monkeypatch)
    client = MlflowClient(tracking_uri)
    for trial_id, (status, curve, session_status, run_status) in expected.items():
        events = read_events(log_dir / trial_id)
        if curve:
            assert scalars(events, "score") == curve
        else:
            assert "score" not in events.Tags()["tensors"]
        plugin = events.PluginTagToContent(metadata.PLUGIN_NAME)
        end = metadata.parse_session_end_info_plugin_data(plugin[metadata.SESSION_END_INFO_TAG])
        assert end.status == session_status
        run = children[trial_id]
        assert (run.data.tags["status"], run.info.status) == (status, run_status)
        assert sorted((point.step, point.value) for point in
                      client.get_metric_history(run.info.run_id, "score")) == curve
    assert children["2"].data.tags["message"] == "ValueError: the model cannot be built"


def test_without_mlflow_the_flag_and_the_setting_say_what_to_install(tmp_path, monkeypatch):
    # A `sitecustomize` that hides the installed package, as if it were not.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['mlflow'] = None\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = evokt("search", "--dataset", "iris", "--mlflow", "file:mlruns",
                   "--project-dir", "search", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr == "evokt: error: --mlflow needs mlflow: pip install 'evokt[mlflow]'\n"
    assert not (tmp_path / "search").exists()

    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ConfigError, match=r"EVOKT_MLFLOW_TRACKING_URI needs mlflow: pip "
                                          r"install 'evokt\[mlflow\]'"):
        check_tracking({"MLFLOW_TRACKING_URI": "http://mlflow:5000"})
    check_tracking({"MLFLOW_TRACKING_URI": ""})
