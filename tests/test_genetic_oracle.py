"""The genetic oracle's mechanisms: proposals, tournament, crossover, state.

Tests here pin `population_size` (and `sample_size`) below the defaults so
that evolution starts, and its mechanism shows, within the few dozen trials
a test runs; each says so where it pins another value. What the defaults
themselves are, and what they achieve, is tested in `test_strategies`
(the documented defaults) and `test_screening` (model guidance under them).
"""

import random
import statistics

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

from evokt import GeneticOracle
from evokt.oracles import crossover
from evokt.oracles.defaults import DEFAULT_REEVALUATION_SHARE


def make_oracle(project_dir, direction="max", space=conditional_space, **kwargs):
    kwargs.setdefault("max_trials", 200)
    kwargs.setdefault("seed", 1)
    oracle = GeneticOracle(
        objective=keras_tuner.Objective("score", direction),
        hyperparameters=space(),
        **kwargs,
    )
    return start_oracle(oracle, project_dir)


def test_never_proposes_a_configuration_twice_in_a_long_run(project_dir):
    oracle = make_oracle(project_dir, max_trials=400, population_size=10, sample_size=5,
                         max_evaluations=1)
    trials = run_trials(oracle, 400)
    assert len(trials) == 400
    assert len({values_key(t.hyperparameters.values) for t in trials}) == 400
    assert oracle.reevaluations() == {}


def test_repeats_in_a_long_noisy_run_are_only_declared_reevaluations(project_dir):
    oracle = make_oracle(project_dir, max_trials=400, population_size=10, sample_size=5)
    trials = run_trials(oracle, 400, score=NoisyScore())
    assert len(trials) == 400
    assert repeats_outside(trials, oracle.reevaluations()) == []
    distinct = {values_key(t.hyperparameters.values) for t in trials}
    assert len(distinct) + len(oracle.reevaluations()) == 400
    assert 0 < len(oracle.reevaluations()) <= DEFAULT_REEVALUATION_SHARE * 400


def test_stops_exactly_when_a_finite_space_is_exhausted(project_dir):
    def small_space():
        hp = keras_tuner.HyperParameters()
        hp.Int("num_layers", 1, 2)
        for i in range(2):
            with hp.conditional_scope("num_layers", list(range(i + 1, 3))):
                hp.Choice(f"units_{i}", [8, 16, 32])
        return hp

    oracle = make_oracle(project_dir, space=small_space, max_trials=50, population_size=4,
                         max_evaluations=1)
    trials = run_trials(oracle, 50, score=lambda v: v["num_layers"])
    assert len(trials) == 3 + 9
    assert len({values_key(t.hyperparameters.values) for t in trials}) == 12
    assert oracle.create_trial("tuner0").status == "STOPPED"


def test_an_exhausted_space_still_spends_its_reevaluations_then_stops(project_dir):
    def small_space():
        hp = keras_tuner.HyperParameters()
        hp.Choice("units", [8, 16, 32, 64])
        return hp

    oracle = make_oracle(project_dir, space=small_space, max_trials=50, population_size=2,
                         reevaluation_share=0.2)
    trials = run_trials(oracle, 50, score=lambda v: v["units"])
    assert len({values_key(t.hyperparameters.values) for t in trials}) == 4
    assert repeats_outside(trials, oracle.reevaluations()) == []
    # The best configuration is checked up to max_evaluations (3) times.
    assert list(oracle.reevaluations().values()).count(oracle.get_best_trials(1)[0].trial_id) == 2
    assert len(trials) == 4 + len(oracle.reevaluations())
    assert oracle.create_trial("tuner0").status == "STOPPED"


@pytest.mark.parametrize("direction,sign", [("max", 1), ("min", -1)])
def test_evolution_follows_the_objective_direction(project_dir, direction, sign):
    oracle = make_oracle(project_dir, direction=direction, max_trials=300)
    trials = run_trials(oracle, 300, score=lambda v: sign * peak_score(v))
    random_phase = [peak_score(t.hyperparameters.values) for t in trials[:20]]
    evolved = [peak_score(t.hyperparameters.values) for t in trials[-100:]]
    # Children of the best concentrate near the peak (score 0), whichever way
    # the objective points.
    assert statistics.median(evolved) > statistics.median(random_phase) + 0.5


def test_tournament_takes_the_best_sample_member_in_each_direction(project_dir):
    for direction in ("max", "min"):
        oracle = make_oracle(project_dir + direction, direction=direction,
                             population_size=6, sample_size=6, max_trials=20)
        run_trials(oracle, 6, score=lambda v: v["num_layers"] + v["dropout"])
        population = oracle.population()
        key = oracle._tournament_key(population)
        winner = oracle.tournament(population, oracle.sample_size, random.Random(0),
                                   key).hyperparameters.values
        scores = [t.score for t in population]
        best = max(scores) if direction == "max" else min(scores)
        assert winner["num_layers"] + winner["dropout"] == pytest.approx(best)


@pytest.mark.parametrize("scores,crosses", [((1, 2, 3, 4, 5, 6), False),
                                            ((1, 2, 3, 4, 6, 6), True)])
def test_a_second_tournament_only_when_it_could_pick_another_configuration(
        project_dir, monkeypatch, scores, crosses):
    # The default tournament holds the whole population: a second one picks
    # the same best unless another configuration ties it.
    crossed = []

    def record(search_space, first, second, rng):
        crossed.append((values_key(first), values_key(second)))
        return dict(first)

    monkeypatch.setattr(crossover, "uniform_crossover", record)
    # Re-evaluation off: the six trials are six configurations.
    oracle = make_oracle(project_dir, population_size=6, crossover_prob=1.0, max_trials=20,
                         max_evaluations=1)
    given = iter(scores)
    trials = run_trials(oracle, 6, score=lambda values: next(given))
    assert oracle.sample_size == 6
    for seed in range(20):
        assert oracle.breed(random.Random(seed), 0) is not None
    tied = {values_key(t.hyperparameters.values) for t in trials if t.score == max(scores)}
    assert bool(crossed) == crosses
    assert all(set(pair) <= tied for pair in crossed)
    assert any(first != second for first, second in crossed) == crosses


def test_two_trials_run_at_once_and_it_never_idles(project_dir):
    oracle = make_oracle(project_dir, population_size=4, max_trials=30)
    # Fill the population, then keep two trials in flight at all times.
    first = oracle.create_trial("worker0")
    second = oracle.create_trial("worker1")
    assert first.status == second.status == "RUNNING"
    assert values_key(first.hyperparameters.values) != values_key(second.hyperparameters.values)
    in_flight = {"worker0": first, "worker1": second}
    started = [first, second]
    for step in range(26):
        worker = f"worker{step % 2}"
        trial = in_flight[worker]
        oracle.update_trial(trial.trial_id, {"score": peak_score(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        new = oracle.create_trial(worker)
        assert new.status == "RUNNING"
        started.append(new)
        in_flight[worker] = new
    assert len(oracle.trials) == 28
    # A configuration comes back only as a declared re-evaluation.
    assert repeats_outside(started, oracle.reevaluations()) == []


def test_failed_and_invalid_trials_never_become_parents(project_dir):
    oracle = make_oracle(project_dir, population_size=4, max_trials=40)
    run_trials(oracle, 20, status=lambda n: "FAILED" if n % 2 else "COMPLETED")
    parents = oracle.population()
    assert len(parents) == 4
    assert all(t.status == "COMPLETED" for t in parents)
    assert all(int(t.trial_id) % 2 == 0 for t in parents)


def test_initial_hps_come_first_and_join_the_population(project_dir):
    initial = [
        {"num_layers": 1, "units_0": 256, "activation_0": "tanh"},
        {"num_layers": 2, "units_0": 16, "units_1": 16},
    ]
    oracle = make_oracle(project_dir, population_size=2, sample_size=2, initial_hps=initial)
    trials = run_trials(oracle, 5)
    first, second = (t.hyperparameters.values for t in trials[:2])
    assert first["units_0"] == 256 and first["activation_0"] == "tanh"
    assert first["dropout"] == 0.0 and first["batch_norm"] is False  # defaults
    assert second["num_layers"] == 2 and second["units_1"] == 16
    first_two = {t.trial_id for t in oracle.completed_trials()[:2]}
    assert first_two == {trials[0].trial_id, trials[1].trial_id}


def test_invalid_initial_hps_are_rejected_with_the_hyperparameter_named(project_dir):
    oracle = make_oracle(project_dir, initial_hps=[{"units_0": 100}])
    with pytest.raises(ValueError, match="units_0"):
        oracle.create_trial("tuner0")


def test_same_seed_and_scores_give_the_same_proposals(tmp_path):
    runs = []
    for name in ("a", "b"):
        oracle = make_oracle(str(tmp_path / name), space=continuous_space, max_trials=60)
        runs.append([values_key(t.hyperparameters.values) for t in run_trials(oracle, 60)])
    assert runs[0] == runs[1]
    other = make_oracle(str(tmp_path / "c"), space=continuous_space, max_trials=60, seed=2)
    assert [values_key(t.hyperparameters.values) for t in run_trials(other, 60)] != runs[0]


def test_seed_zero_is_a_seed_like_any_other(tmp_path):
    # KerasTuner's Oracle replaces a falsy seed with a random one.
    runs = []
    for name in ("a", "b"):
        oracle = make_oracle(str(tmp_path / name), space=continuous_space, max_trials=20, seed=0)
        assert oracle.seed == 0
        runs.append([values_key(t.hyperparameters.values) for t in run_trials(oracle, 20)])
    assert runs[0] == runs[1]


def test_state_round_trips_mid_search_and_the_evolution_continues(tmp_path):
    uninterrupted = make_oracle(str(tmp_path / "whole"), space=continuous_space, max_trials=50)
    expected = [values_key(t.hyperparameters.values) for t in run_trials(uninterrupted, 50)]

    directory = str(tmp_path / "resumed")
    first = make_oracle(directory, space=continuous_space, max_trials=50)
    head = run_trials(first, 23)
    state = first.get_state()
    second = make_oracle(directory, space=continuous_space, max_trials=50)
    second.reload()
    reloaded = second.get_state()
    for name in ("end_order", "start_order", "initial_hps_used", "seed", "hyperparameters"):
        assert reloaded[name] == state[name]
    assert set(reloaded["tried_so_far"]) == set(state["tried_so_far"])
    # The last trial ended, though the oracle saved it while still ongoing.
    assert reloaded["retry_queue"] == []
    tail = run_trials(second, 50)
    assert len(head) + len(tail) == 50
    assert [values_key(t.hyperparameters.values) for t in head + tail] == expected


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"population_size": 1}, "population_size"),
        ({"population_size": 5, "sample_size": 6}, "sample_size"),
        ({"crossover_prob": 1.5}, "crossover_prob"),
        ({"mutation_scale": 0}, "mutation_scale"),
        ({"max_trials": 0}, "max_trials"),
        ({"initial_hps": ["x"]}, "initial_hps"),
        ({"candidates": 0}, "candidates"),
        ({"max_evaluations": 0}, "max_evaluations"),
        ({"reevaluation_share": 1.0}, "reevaluation_share"),
        ({"reevaluation_share": -0.1}, "reevaluation_share"),
        ({"model_draw_share": 1.5}, "model_draw_share"),
        ({"model_draw_share": -0.1}, "model_draw_share"),
    ],
)
def test_arguments_are_checked_with_the_argument_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GeneticOracle(objective=keras_tuner.Objective("score", "max"), **kwargs)


def test_crossover_children_mix_two_parents_without_duplicates(project_dir):
    oracle = make_oracle(project_dir, crossover_prob=1.0, population_size=8, max_trials=120,
                         max_evaluations=1)
    trials = run_trials(oracle, 120)
    assert len({values_key(t.hyperparameters.values) for t in trials}) == 120
