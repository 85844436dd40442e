"""Noise-aware recommendation: re-evaluations and the ranking by estimate,
in both evolutionary oracles, driven through KerasTuner's own API."""

import collections
import json
import os
import re

import keras_tuner
import pytest
from conftest import NoisyScore
from conftest import conditional_space
from conftest import continuous_space
from conftest import peak_score
from conftest import repeats_outside
from conftest import run_trials
from conftest import start_oracle
from conftest import values_key
from helpers import evokt
from helpers import trial_statuses

from evokt import GeneticOracle
from evokt import GreedyOracle
from evokt.search.spec import SearchSpec
from evokt.service.search_process import StoreObserver
from evokt.service.store import SCHEMA_VERSION
from evokt.service.store import JobStore

ORACLES = [GeneticOracle, GreedyOracle]


# A test that pins `population_size` does so for evolution to start within
# its budget; the re-evaluation settings are the defaults unless it says.
def make_oracle(oracle_class, project_dir, space=conditional_space, **kwargs):
    kwargs.setdefault("max_trials", 60)
    kwargs.setdefault("seed", 5)
    oracle = oracle_class(objective=keras_tuner.Objective("score", "max"),
                          hyperparameters=space(), **kwargs)
    return start_oracle(oracle, project_dir)


def evaluations(oracle):
    """First trial id -> every trial (first and re-evaluations) of its configuration."""
    reevaluations = oracle.reevaluations()
    groups = collections.defaultdict(list)
    for trial_id in oracle.start_order:
        groups[reevaluations.get(trial_id, trial_id)].append(trial_id)
    return groups


class LuckyFirst:
    """The first configuration scores 10 once, then -20: a lucky draw."""

    def __init__(self):
        self.first = None
        self.calls = 0

    def __call__(self, values):
        key = values_key(values)
        if self.first is None:
            self.first = key
        if key == self.first:
            self.calls += 1
            return 10.0 if self.calls == 1 else -20.0
        return peak_score(values)


@pytest.mark.parametrize("oracle_class", ORACLES)
def test_a_lucky_score_is_checked_and_not_recommended(project_dir, oracle_class):
    oracle = make_oracle(oracle_class, project_dir, max_trials=30, reevaluation_share=0.2)
    score = LuckyFirst()
    trials = run_trials(oracle, 30, score=score)
    first = trials[0].trial_id
    assert first in oracle.reevaluations().values()
    # Re-evaluated once (mean -5), it dropped out of the lead and was left.
    assert score.calls == 2
    assert oracle.get_best_trials(1)[0].trial_id != first


@pytest.mark.parametrize("oracle_class", ORACLES)
def test_best_trials_are_one_per_configuration_ordered_by_estimate(project_dir, oracle_class):
    oracle = make_oracle(oracle_class, project_dir, max_trials=80)
    run_trials(oracle, 80, score=NoisyScore(seed=1))
    assert oracle.reevaluations()
    best = oracle.get_best_trials(10)
    assert len({values_key(t.hyperparameters.values) for t in best}) == 10
    assert not {t.trial_id for t in best} & set(oracle.reevaluations())
    estimates = [oracle.estimated_score(t) for t in best]
    assert estimates == sorted(estimates, reverse=True)
    everything = oracle.get_best_trials(1000)
    assert oracle.estimated_score(everything[0]) == max(
        oracle.estimated_score(t) for t in oracle.completed_trials())
    # The estimate uses every evaluation of the configuration.
    groups = evaluations(oracle)
    checked = [t for t in oracle.completed_trials() if len(groups[t.trial_id]) > 1]
    assert len(checked) > 1
    # Each is its mean lowered by the same noise over the root of its count.
    noise = set()
    for trial in checked:
        scores = [oracle.trials[trial_id].score for trial_id in groups[trial.trial_id]]
        mean = sum(scores) / len(scores)
        assert oracle.estimated_score(trial) < mean
        noise.add(round((mean - oracle.estimated_score(trial)) * len(scores) ** 0.5, 9))
    assert len(noise) == 1


@pytest.mark.parametrize("oracle_class", ORACLES)
def test_reevaluations_stay_within_their_share_and_evaluation_count(project_dir, oracle_class):
    oracle = make_oracle(oracle_class, project_dir, max_trials=100, max_evaluations=3,
                         reevaluation_share=0.15)
    trials = run_trials(oracle, 100, score=NoisyScore(seed=2))
    assert repeats_outside(trials, oracle.reevaluations()) == []
    assert 0 < len(oracle.reevaluations()) <= 15
    assert max(len(group) for group in evaluations(oracle).values()) <= 3


@pytest.mark.parametrize("off", [{"max_evaluations": 1}, {"reevaluation_share": 0.0}])
@pytest.mark.parametrize("oracle_class", ORACLES)
def test_reevaluation_can_be_turned_off(project_dir, oracle_class, off):
    oracle = make_oracle(oracle_class, project_dir, **off)
    trials = run_trials(oracle, 60, score=NoisyScore(seed=3))
    assert oracle.reevaluations() == {}
    assert len({values_key(t.hyperparameters.values) for t in trials}) == 60


@pytest.mark.parametrize("oracle_class", ORACLES)
def test_parallel_workers_ending_out_of_order_never_overdo_a_configuration(
        project_dir, oracle_class):
    oracle = make_oracle(oracle_class, project_dir, max_trials=90, max_evaluations=3,
                         reevaluation_share=0.3)
    score = NoisyScore(seed=4)
    workers = [f"worker{i}" for i in range(3)]
    in_flight = {worker: oracle.create_trial(worker) for worker in workers}
    started = list(in_flight.values())
    step = 0
    while in_flight:
        # The worker that started longest ago is not always the first to end.
        worker = workers[(step * 2) % 3]
        if worker not in in_flight:
            worker = next(iter(in_flight))
        step += 1
        trial = in_flight.pop(worker)
        oracle.update_trial(trial.trial_id, {"score": score(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        new = oracle.create_trial(worker)
        if new.status == "RUNNING":
            in_flight[worker] = new
            started.append(new)
            # Running re-evaluations count: no configuration is handed out
            # more than max_evaluations times.
            assert max(len(group) for group in evaluations(oracle).values()) <= 3
    assert len(oracle.trials) == 90
    assert repeats_outside(started, oracle.reevaluations()) == []
    assert oracle.reevaluations()


@pytest.mark.parametrize("oracle_class", ORACLES)
def test_a_search_killed_while_a_reevaluation_runs_resumes_identically(tmp_path, oracle_class):
    def proposals(oracle):
        return [values_key(oracle.trials[trial_id].hyperparameters.values)
                for trial_id in oracle.start_order]

    whole = make_oracle(oracle_class, str(tmp_path / "whole"), space=continuous_space)
    run_trials(whole, 60, score=NoisyScore(seed=6))

    directory = str(tmp_path / "killed")
    score = NoisyScore(seed=6)
    first = make_oracle(oracle_class, directory, space=continuous_space)
    while True:
        trial = first.create_trial("tuner0")
        if trial.trial_id in first.reevaluations():
            break  # killed: this re-evaluation never reports
        first.update_trial(trial.trial_id, {"score": score(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        first.end_trial(trial)
    resumed = make_oracle(oracle_class, directory, space=continuous_space)
    resumed.reload()
    assert resumed.reevaluations() == first.reevaluations()
    run_trials(resumed, 60, score=score)
    assert proposals(resumed) == proposals(whole)
    assert resumed.reevaluations() == whole.reevaluations()
    assert [t.trial_id for t in resumed.get_best_trials(5)] == [
        t.trial_id for t in whole.get_best_trials(5)]


def test_a_reevaluation_whose_values_change_keeps_its_configuration_tried(project_dir):
    oracle = make_oracle(GeneticOracle, project_dir, max_trials=40, population_size=4)
    score = NoisyScore(seed=7)
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.trial_id in oracle.reevaluations():
            break
        oracle.update_trial(trial.trial_id, {"score": score(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    original = oracle.trials[oracle.reevaluations()[trial.trial_id]].hyperparameters.values
    # The hypermodel registered a new hyperparameter while building this run.
    trial.hyperparameters.Fixed("extra", 1)
    oracle.update_trial(trial.trial_id, {"score": 0.0})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    assert oracle._duplicate(original)


@pytest.mark.parametrize("oracle_class", ORACLES)
def test_a_pareto_search_neither_reevaluates_nor_screens(project_dir, oracle_class):
    objectives = [keras_tuner.Objective("score", "max"), keras_tuner.Objective("size", "min")]
    oracle = start_oracle(oracle_class(objective=objectives, hyperparameters=continuous_space(),
                                       max_trials=60, seed=5), project_dir)
    for _ in range(60):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        oracle.update_trial(trial.trial_id, {"score": peak_score(values),
                                             "size": values["num_layers"]})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert oracle.reevaluations() == {}
    assert oracle._model() is None
    assert len({values_key(t.hyperparameters.values) for t in oracle.trials.values()}) == 60


@pytest.mark.parametrize("oracle_class", ORACLES)
def test_a_configuration_over_the_constraints_is_neither_reevaluated_nor_recommended(
        project_dir, oracle_class):
    # The best-scoring configurations are too deep: only shallower ones count.
    oracle = make_oracle(oracle_class, project_dir, space=continuous_space, max_trials=60,
                         constraints={"size": 2})
    score = NoisyScore(seed=8)
    for _ in range(60):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        oracle.update_trial(trial.trial_id, {"score": score(values) + values["num_layers"],
                                             "size": values["num_layers"]})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert oracle.reevaluations()
    for first in oracle.reevaluations().values():
        assert oracle.trials[first].metrics.get_last_value("size") <= 2
    best = oracle.get_best_trials(5)
    assert all(t.metrics.get_last_value("size") <= 2 for t in best)


def test_a_real_search_shows_its_reevaluation_and_exports_by_the_mean(tmp_path):
    """evokt search trains for real; with a fifth of the budget for
    re-evaluation the last trial of five re-evaluates the leader, which
    summary and best.json name."""
    project, output = tmp_path / "search", tmp_path / "model"
    result = evokt("search", "--dataset", "iris", "--max-trials", "5", "--epochs", "1",
                   "--option", "reevaluation_share=0.2",
                   "--project-dir", str(project), "--output", str(output))
    assert result.returncode == 0, result.stderr
    with open(project / "oracle.json") as file:
        reevaluations = json.load(file)["reevaluations"]
    assert len(reevaluations) == 1
    (reevaluation, first), = reevaluations.items()
    statuses = trial_statuses(project)
    assert statuses[reevaluation][2] == statuses[first][2]  # the same values
    best = json.loads((output / "best.json").read_text())
    assert best["trial_id"] != reevaluation
    if best["trial_id"] == first:
        scores = [statuses[first][1], statuses[reevaluation][1]]
        assert best["evaluations"] == [first, reevaluation]
        assert best["mean_score"] == pytest.approx(sum(scores) / 2)
    else:  # the second evaluation pulled the first leader's mean below another
        assert best["evaluations"] == [best["trial_id"]]
    summary = evokt("summary", str(project), env={**os.environ, "COLUMNS": "200"})
    assert summary.returncode == 0, summary.stderr
    assert "reevaluates" in summary.stdout
    row = next(line for line in summary.stdout.splitlines()
               if re.search(rf"│\s*{reevaluation}\s*│", line))
    assert re.search(rf"│\s*{reevaluation}\s*│\s*{first}\s*│", row)


def test_the_service_store_keeps_which_trial_a_reevaluation_reevaluates(tmp_path, project_dir):
    oracle = make_oracle(GeneticOracle, project_dir, max_trials=30)
    store = JobStore(str(tmp_path / "data"))
    spec = SearchSpec(dataset="iris", hypermodel="mlp", oracle="genetic", max_trials=30, epochs=1)
    store.add_search("s1", spec.to_dict(), "iris", "model", max_pending=10)
    observer = StoreObserver(store, "s1")
    score = NoisyScore(seed=9)
    for _ in range(30):
        trial = oracle.create_trial("tuner0")
        oracle.update_trial(trial.trial_id, {"score": score(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        observer.trial_ended(oracle, trial)
    assert oracle.reevaluations()
    shown = {trial["trial_id"]: trial["reevaluates"] for trial in store.trials("s1")}
    assert shown == {trial_id: oracle.reevaluations().get(trial_id) for trial_id in oracle.trials}
    # The search's best trial is a configuration's first trial, by the estimate.
    assert store.search("s1")["best_trial"] == oracle.get_best_trials(1)[0].trial_id


def test_a_store_of_schema_3_gains_the_reevaluates_column_and_keeps_its_trials(tmp_path):
    data_dir = str(tmp_path / "data")
    store = JobStore(data_dir)
    spec = SearchSpec(dataset="iris", hypermodel="mlp", oracle="genetic", max_trials=2, epochs=1)
    store.add_search("old", spec.to_dict(), "iris", "model", max_pending=10)
    store.record_trial("old", {"trial_id": "0", "status": "COMPLETED", "score": 0.9,
                               "hyperparameters": {"units": 8}},
                       {"trials_done": 1, "objective": "val_accuracy", "direction": "max"})
    # Back to the schema before re-evaluations (and deleted model versions) were recorded.
    store.connection.execute("ALTER TABLE trials DROP COLUMN reevaluates")
    store.connection.execute("ALTER TABLE model_versions DROP COLUMN deleted")
    store.connection.execute("PRAGMA user_version = 3")
    store.connection.close()
    migrated = JobStore(data_dir)
    assert migrated.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert migrated.model_versions("model") == []  # reads the new `deleted` column
    (trial,) = migrated.trials("old")
    assert trial["trial_id"] == "0" and trial["score"] == 0.9 and trial["reevaluates"] is None
