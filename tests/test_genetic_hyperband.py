"""GeneticHyperbandOracle through KerasTuner's Oracle API, and its tuner on real training."""

from __future__ import annotations

import collections
import math

import keras
import keras_tuner
import numpy as np
import pytest
from conftest import conditional_space
from conftest import continuous_space
from conftest import peak_score
from conftest import start_oracle

from evokt.oracles import space as space_lib
from evokt.oracles.genetic_hyperband import EPOCHS
from evokt.oracles.genetic_hyperband import INITIAL_EPOCH
from evokt.oracles.genetic_hyperband import PARENT_TRIAL
from evokt.oracles.genetic_hyperband import ROUND
from evokt.oracles.genetic_hyperband import GeneticHyperband
from evokt.oracles.genetic_hyperband import GeneticHyperbandOracle
from evokt.oracles.genetic_hyperband import epochs_added
from evokt.oracles.genetic_hyperband import rung_epochs


def network(values: dict) -> str:
    """A configuration without the Hyperband values: the network itself."""
    return repr(sorted((k, v) for k, v in values.items() if not k.startswith("tuner/")))


def fidelity_score(values: dict) -> float:
    """`peak_score` that improves with training, as validation accuracy does."""
    return peak_score(values) - 2.0 / values[EPOCHS]


def make_oracle(directory, **kwargs) -> GeneticHyperbandOracle:
    arguments = dict(objective=keras_tuner.Objective("score", "max"), max_epochs=9,
                     max_epochs_budget=120, factor=3, population_size=4,
                     hyperparameters=continuous_space(), seed=7)
    arguments.update(kwargs)
    return start_oracle(GeneticHyperbandOracle(**arguments), str(directory))


def finish(oracle, trial, score=fidelity_score) -> None:
    oracle.update_trial(trial.trial_id, {"score": score(trial.hyperparameters.values)})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def run_to_the_end(oracle, score=fidelity_score, limit=1000) -> list:
    trials = []
    for _ in range(limit):
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            assert trial.status == "STOPPED"
            return trials
        trials.append(trial)
        finish(oracle, trial, score)
    pytest.fail("the search did not stop")


def test_rungs_are_keras_tuner_hyperbands_epochs():
    keras_tuner_hyperband = keras_tuner.oracles.HyperbandOracle(max_epochs=100, factor=3)
    top_bracket = keras_tuner_hyperband._get_num_brackets() - 1
    assert rung_epochs(100, 3) == [keras_tuner_hyperband._get_epochs(top_bracket, rung)
                                   for rung in range(top_bracket + 1)]
    assert rung_epochs(9, 3) == [1, 3, 9]
    assert rung_epochs(100, 3, min_epochs=10) == [12, 34, 100]
    assert rung_epochs(1, 3) == [1]


def test_a_trial_is_promoted_as_soon_as_it_is_in_the_top_third_of_its_rung(project_dir):
    oracle = make_oracle(project_dir)
    first = []
    for _ in range(3):
        trial = oracle.create_trial("tuner0")
        assert trial.hyperparameters.values[ROUND] == 0
        first.append(trial)
        finish(oracle, trial)
    best = max(first, key=lambda trial: trial.score)
    promoted = oracle.create_trial("tuner0").hyperparameters.values
    # Three completed trials in rung 0: the best one goes up at once, trained
    # from its own epoch 1 to epoch 3.
    assert promoted[PARENT_TRIAL] == best.trial_id
    assert promoted[INITIAL_EPOCH] == 1 and promoted[EPOCHS] == 3 and promoted[ROUND] == 1
    assert network(promoted) == network(best.hyperparameters.values)


@pytest.mark.parametrize("max_epochs, factor", [(9, 3), (5, 2)])
def test_every_promotion_is_in_the_top_share_of_its_rung_when_it_is_made(
        project_dir, max_epochs, factor):
    oracle = make_oracle(project_dir, max_epochs=max_epochs, factor=factor, max_epochs_budget=100)
    promotions = 0
    while (trial := oracle.create_trial("tuner0")).status == "RUNNING":
        parent_id = trial.hyperparameters.values.get(PARENT_TRIAL)
        if parent_id is not None:
            rung = trial.hyperparameters.values[ROUND] - 1
            peers = sorted((t.score for t in oracle.trials.values()
                            if t.status == "COMPLETED" and t.hyperparameters.values[ROUND] == rung),
                           reverse=True)
            assert peers.index(oracle.trials[parent_id].score) < len(peers) // factor
            promotions += 1
        finish(oracle, trial)
    assert promotions > 10


def test_every_promotion_continues_a_completed_parent_one_rung_down_once(project_dir):
    oracle = make_oracle(project_dir)
    trials = {trial.trial_id: trial for trial in run_to_the_end(oracle)}
    epochs = oracle.rung_epochs
    promotions = [t for t in trials.values() if PARENT_TRIAL in t.hyperparameters.values]
    assert any(t.hyperparameters.values[ROUND] == 2 for t in promotions)  # reached the top
    parents = [t.hyperparameters.values[PARENT_TRIAL] for t in promotions]
    assert len(parents) == len(set(parents))
    for child in promotions:
        values = child.hyperparameters.values
        parent = trials[values[PARENT_TRIAL]]
        rung = values[ROUND]
        assert parent.hyperparameters.values[ROUND] == rung - 1
        assert parent.trial_id < child.trial_id and parent.status == "COMPLETED"
        assert (values[INITIAL_EPOCH], values[EPOCHS]) == (epochs[rung - 1], epochs[rung])
        assert network(values) == network(parent.hyperparameters.values)


@pytest.mark.parametrize("max_epochs, factor, costs", [
    (9, 3, {1, 2, 6}),  # rungs 1, 3, 9: a promotion costs only the epochs it adds
    (5, 2, {1, 2}),  # rungs 2, 3, 5: a promotion can cost less than a new network
])
def test_the_epochs_handed_out_never_exceed_the_budget_and_use_it_up(
        project_dir, max_epochs, factor, costs):
    oracle = make_oracle(project_dir, max_epochs=max_epochs, factor=factor, max_epochs_budget=100)
    trials = run_to_the_end(oracle)
    spent = sum(epochs_added(trial.hyperparameters.values) for trial in trials)
    assert {epochs_added(t.hyperparameters.values) for t in trials} == costs
    assert spent == oracle.epochs_used <= 100
    assert 100 - spent < oracle.rung_epochs[0]


def test_no_network_is_started_twice_and_none_twice_at_the_same_rung(project_dir):
    oracle = make_oracle(project_dir, hyperparameters=conditional_space(), max_epochs_budget=300)
    trials = run_to_the_end(oracle)
    started = [network(t.hyperparameters.values) for t in trials
               if t.hyperparameters.values[ROUND] == 0]
    assert len(started) == len(set(started))
    at_rung = [(network(t.hyperparameters.values), t.hyperparameters.values[ROUND]) for t in trials]
    assert len(at_rung) == len(set(at_rung))


def test_new_networks_are_bred_from_the_highest_rung_with_a_population(project_dir):
    oracle = make_oracle(project_dir, random_fraction=0.0, max_epochs_budget=200)
    trials = run_to_the_end(oracle)
    completed = collections.Counter(t.hyperparameters.values[ROUND] for t in trials)
    highest = max(rung for rung, count in completed.items() if count >= oracle.population_size)
    assert highest > 0
    population = oracle.population()
    ended_there = [oracle.trials[i] for i in oracle.end_order
                   if oracle.trials[i].hyperparameters.values[ROUND] == highest]
    assert population == ended_there[-oracle.population_size:]
    # Evolution concentrates the new networks near the peak of the score.
    new = [t for t in trials if t.hyperparameters.values[ROUND] == 0]
    early, late = new[:10], new[-10:]
    assert (np.mean([peak_score(t.hyperparameters.values) for t in late])
            > np.mean([peak_score(t.hyperparameters.values) for t in early]))


def test_children_hold_exactly_their_active_hyperparameters(project_dir):
    space = conditional_space()
    oracle = make_oracle(project_dir, hyperparameters=space, random_fraction=0.0,
                         max_epochs_budget=200)
    for trial in run_to_the_end(oracle):
        values = {k: v for k, v in trial.hyperparameters.values.items()
                  if not k.startswith("tuner/")}
        active = space_lib.complete_values(space, values, lambda hp: pytest.fail(hp.name))
        assert values == active


def test_a_resumed_search_continues_exactly_as_an_uninterrupted_one(tmp_path):
    uninterrupted = make_oracle(tmp_path / "a")
    expected = [t.hyperparameters.values for t in run_to_the_end(uninterrupted)]

    oracle = make_oracle(tmp_path / "b")
    for _ in range(23):
        finish(oracle, oracle.create_trial("tuner0"))
    running = oracle.create_trial("tuner0")  # killed while this trial trains
    resumed = make_oracle(tmp_path / "b")
    resumed.reload()
    retried = resumed.create_trial("tuner0")
    assert retried.trial_id == running.trial_id
    finish(resumed, retried)
    run_to_the_end(resumed)
    got = [resumed.trials[trial_id].hyperparameters.values for trial_id in resumed.start_order]
    assert got == expected
    assert resumed.epochs_used == uninterrupted.epochs_used


def test_two_workers_never_wait_for_a_round_and_stop_when_the_budget_is_spent(project_dir):
    oracle = make_oracle(project_dir, max_epochs_budget=60)
    # Trials end in the order they started, so the two workers interleave.
    running = collections.deque((worker, oracle.create_trial(worker)) for worker in ("w0", "w1"))
    waiting, answers = set(), []
    while running:
        worker, trial = running.popleft()
        finish(oracle, trial)
        for asking in [worker, *sorted(waiting)]:
            answer = oracle.create_trial(asking)
            answers.append(answer.status)
            waiting.discard(asking)
            if answer.status == "RUNNING":
                parent = answer.hyperparameters.values.get(PARENT_TRIAL)
                assert parent is None or oracle.trials[parent].status == "COMPLETED"
                running.append((asking, answer))
            elif answer.status == "IDLE":
                # Only once the budget is spent, while the other worker trains.
                assert oracle.epochs_left < oracle.rung_epochs[0] and running
                waiting.add(asking)
    assert "RUNNING" not in answers[answers.index("IDLE"):]
    assert answers[-2:] == ["STOPPED", "STOPPED"] or answers[-1] == "STOPPED"
    assert oracle.create_trial("w0").status == "STOPPED"
    assert oracle.epochs_used <= 60 and oracle.epochs_left < oracle.rung_epochs[0]
    assert sum(t.hyperparameters.values[ROUND] > 0 for t in oracle.trials.values()) >= 3


def test_a_lost_trial_goes_to_the_next_worker_without_being_charged_again(project_dir):
    oracle = make_oracle(project_dir)
    lost = oracle.create_trial("w0")
    used = oracle.epochs_used
    oracle.release_tuner("w0")  # its worker died
    again = oracle.create_trial("w1")
    assert again.trial_id == lost.trial_id and oracle.epochs_used == used
    finish(oracle, again)
    assert oracle.create_trial("w1").trial_id != lost.trial_id


def test_a_finite_space_is_exhausted_then_its_best_networks_trained_further(project_dir):
    space = keras_tuner.HyperParameters()
    space.Choice("width", [8, 16, 32])
    oracle = make_oracle(project_dir, hyperparameters=space, max_epochs_budget=1000)
    trials = run_to_the_end(oracle, lambda values: values["width"] / 32 - 1 / values[EPOCHS])
    started = sorted(t.hyperparameters.values["width"] for t in trials
                     if t.hyperparameters.values[ROUND] == 0)
    assert started == [8, 16, 32]
    # Nothing new to try: all three were trained up to the top rung, once each.
    at_top = sorted(t.hyperparameters.values["width"] for t in trials
                    if t.hyperparameters.values[ROUND] == 2)
    assert at_top == [8, 16, 32]
    assert oracle.epochs_used == 3 * 9 < 1000


@pytest.mark.parametrize("arguments, message", [
    ({"factor": 1}, "`factor` must be an integer of at least 2"),
    ({"max_epochs_budget": 0}, "`max_epochs_budget` must be an integer of at least 1"),
    ({"min_epochs": 20}, "`min_epochs` (20) must not exceed `max_epochs` (9)"),
    ({"random_fraction": 1.0}, "`random_fraction` must be in [0, 1)"),
    ({"population_size": 4, "sample_size": 5}, "`sample_size` must be between 1"),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError) as error:
        GeneticHyperbandOracle(objective="score", max_epochs=9, **arguments)
    assert message in str(error.value)


class RecordingHyperModel(keras_tuner.HyperModel):
    """A small dense network that records, per trial, how it was trained."""

    def __init__(self):
        super().__init__()
        self.fits: list[dict] = []

    def build(self, hp):
        model = keras.Sequential([
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 4, 32, step=2, sampling="log"), activation="relu"),
            keras.layers.Dense(1),
        ])
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-1, sampling="log")),
                      loss="mse")
        return model

    def fit(self, hp, model, *args, **kwargs):
        weights = [w.copy() for w in model.get_weights()]
        history = model.fit(*args, **kwargs)
        self.fits.append({"values": dict(hp.values), "weights": weights,
                          "initial_epoch": kwargs["initial_epoch"], "epochs": kwargs["epochs"],
                          "epochs_trained": len(history.epoch)})
        return history


def test_a_promoted_trial_trains_on_from_its_parents_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32")
    hypermodel = RecordingHyperModel()
    tuner = GeneticHyperband(hypermodel, objective="val_loss", max_epochs=3, factor=3,
                             max_epochs_budget=7, seed=1, directory=str(tmp_path),
                             project_name="search")
    tuner.search(x, y, validation_data=(x, y), epochs=100, batch_size=16, verbose=0)

    promoted = [fit for fit in hypermodel.fits if PARENT_TRIAL in fit["values"]]
    assert promoted, "no trial was promoted"
    for fit in hypermodel.fits:
        assert fit["epochs_trained"] == fit["epochs"] - fit["initial_epoch"]
    assert sum(fit["epochs_trained"] for fit in hypermodel.fits) <= 7
    fit = promoted[0]
    assert (fit["initial_epoch"], fit["epochs"], fit["epochs_trained"]) == (1, 3, 2)
    parent = tuner.oracle.get_trial(fit["values"][PARENT_TRIAL])
    parent_weights = tuner.load_model(parent).get_weights()
    for started, saved in zip(fit["weights"], parent_weights, strict=True):
        np.testing.assert_array_equal(started, saved)
    child = next(trial for trial in tuner.oracle.trials.values()
                 if trial.hyperparameters.values.get(PARENT_TRIAL) == parent.trial_id)
    assert math.isfinite(child.score)
    assert tuner.load_model(child) is not None
