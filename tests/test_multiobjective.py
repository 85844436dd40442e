"""Searches of several objectives, end to end: measured objectives, constraints, the front."""

import json
import os

import keras_tuner
import pytest
from helpers import evokt
from service_helpers import AUTH
from service_helpers import make_app
from service_helpers import start_runner
from service_helpers import store_of
from service_helpers import wait_for_record

from evokt import GeneticSearch
from evokt.hypermodels import MLPHyperModel
from evokt.hypermodels.data import load_builtin
from evokt.oracles.measures import measure_model
from evokt.oracles.pareto import dominates


def vector(trial) -> tuple[float, float]:
    return (-trial.metrics.get_best_value("val_accuracy"), trial.metrics.get_last_value("params"))


@pytest.fixture(scope="module")
def iris():
    return load_builtin("iris")


def test_a_models_measures_are_its_size_speed_and_file(iris):
    hp = keras_tuner.HyperParameters()
    hp.Fixed("num_layers", 1)
    hp.Fixed("units_0", 16)
    model = MLPHyperModel(iris.input_shape, num_classes=3).build(hp)
    measures, missing = measure_model(model)
    assert missing == {}
    assert measures["params"] == model.count_params() == 4 * 16 + 16 + 16 * 3 + 3
    assert 0 < measures["latency_ms"] < 50
    assert 5_000 < measures["model_bytes"] < 200_000


def test_genetic_search_with_a_list_of_objectives_keeps_a_pareto_front(iris, tmp_path):
    tuner = GeneticSearch(
        MLPHyperModel(iris.input_shape, num_classes=3, max_layers=2,
                      feature_mean=iris.feature_mean, feature_variance=iris.feature_variance),
        objective=["val_accuracy", keras_tuner.Objective("params", "min")],
        # A population of 2: the front's tournament runs within 5 trials.
        max_trials=5, population_size=2, seed=1, constraints={"params": 20_000},
        directory=str(tmp_path), project_name="mo",
    )
    tuner.search(iris.x_train, iris.y_train, validation_data=(iris.x_val, iris.y_val),
                 epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert all(trial.metrics.exists(metric) for trial in trials
               for metric in ("params", "latency_ms", "model_bytes"))
    front = tuner.pareto_front()
    assert front
    accuracies = [trial.metrics.get_best_value("val_accuracy") for trial in front]
    params = [trial.metrics.get_last_value("params") for trial in front]
    # Along the front, more accuracy costs more parameters, and none is over the bound.
    assert accuracies == sorted(accuracies, reverse=True)
    assert params == sorted(params, reverse=True) and max(params) <= 20_000
    feasible = [trial for trial in trials if trial.status == "COMPLETED"
                and trial.metrics.get_last_value("params") <= 20_000]
    for member in front:  # no feasible trial dominates a member of the front
        assert not any(dominates(vector(other), vector(member)) for other in feasible)
    best = tuner.get_best_models(1)[0]
    assert best.count_params() == params[0]


def test_cli_objectives_constraint_pick_and_summary(tmp_path):
    project, output = tmp_path / "search", tmp_path / "model"
    result = evokt("search", "--dataset", "iris", "--hypermodel", "mlp", "--max-trials", "5",
                   "--epochs", "1", "--objective", "val_accuracy", "--objective", "params:min",
                   "--max-params", "30000", "--pick", "knee", "--project-dir", str(project),
                   "--output", str(output))
    assert result.returncode == 0, result.stderr
    with open(output / "best.json") as file:
        best = json.load(file)
    assert [objective["name"] for objective in best["objectives"]] == ["val_accuracy", "params"]
    assert best["measures"]["params"] <= 30_000
    front = sorted(os.listdir(output / "front"))
    assert best["trial_id"] in front
    for trial_id in front:
        assert (output / "front" / trial_id / "model.keras").exists()
    summary = evokt("summary", str(project))
    assert summary.returncode == 0, summary.stderr
    assert "Pareto front" in summary.stdout and "params" in summary.stdout
    assert f"{best['trial_id']}" in summary.stdout


def test_the_service_shows_the_front_and_publishes_a_trial_of_it(tmp_path):
    data_dir = str(tmp_path / "data")
    app = make_app(data_dir)
    client = app.test_client()
    search = client.post("/v1/searches", headers=AUTH, json={
        "dataset": "iris", "hypermodel": "mlp", "max_trials": 4, "epochs": 1,
        "objective": ["val_accuracy", "params:min"], "max_params": 50_000,
        "model_name": "flowers"}).json
    assert search["objectives"] == [{"name": "val_accuracy", "direction": None},
                                    {"name": "params", "direction": "min"}]
    runner = start_runner(data_dir)
    try:
        wait_for_record(store_of(app), search["id"], lambda r: r["state"] not in (
            "PENDING", "RUNNING"))
    finally:
        runner.terminate()
        runner.wait(60)
    done = client.get(f"/v1/searches/{search['id']}", headers=AUTH).json
    assert done["state"] == "SUCCEEDED", done["error"]
    assert done["objectives"] == [{"name": "val_accuracy", "direction": "max"},
                                  {"name": "params", "direction": "min"}]
    trials = client.get(f"/v1/searches/{search['id']}/trials", headers=AUTH).json["trials"]
    assert all(trial["metrics"]["params"] > 0 and trial["metrics"]["latency_ms"] > 0
               for trial in trials)
    pareto = client.get(f"/v1/searches/{search['id']}/pareto", headers=AUTH).json
    front = pareto["front"]
    assert front and all(trial["exported"] for trial in front)
    assert pareto["constraints"] == {"params": 50_000}
    chosen = front[-1]  # the smallest model of the front
    published = client.post(f"/v1/searches/{search['id']}/publish", headers=AUTH,
                            json={"trial_id": chosen["trial_id"]})
    assert published.status_code == 201, published.json
    version = published.json["version"]
    expected = 1 if chosen["trial_id"] == done["best_trial"] else 2
    assert version == expected
    again = client.post(f"/v1/searches/{search['id']}/publish", headers=AUTH,
                        json={"trial_id": chosen["trial_id"]})
    assert again.json["version"] == version  # publishing twice keeps one version
    metadata = client.get(f"/v1/models/flowers/versions/{version}/metadata", headers=AUTH).json
    assert metadata["evokt"]["trial_id"] == chosen["trial_id"]
    prediction = client.post(f"/v1/models/flowers/versions/{version}:predict", headers=AUTH,
                             json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert prediction.status_code == 200 and len(prediction.json["predictions"][0]) == 3
    off_front = [trial["trial_id"] for trial in trials
                 if trial["trial_id"] not in {t["trial_id"] for t in front}]
    if off_front:
        refused = client.post(f"/v1/searches/{search['id']}/publish", headers=AUTH,
                              json={"trial_id": off_front[0]})
        assert refused.status_code == 409
        assert "is not on the search's Pareto front" in refused.json["error"]
