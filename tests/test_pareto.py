"""Pareto ranks, crowding distances, fronts and knees, on known vectors and real trials."""

import math

import keras_tuner
import pytest
from keras_tuner.engine import trial as trial_module
from keras_tuner.src.engine.objective import MultiObjective

from evokt.oracles import pareto


def test_dominance_needs_no_worse_everywhere_and_better_somewhere():
    assert pareto.dominates((1, 2), (2, 2))
    assert not pareto.dominates((1, 2), (1, 2))
    assert not pareto.dominates((1, 3), (2, 2))


def test_fronts_peel_off_in_order():
    vectors = [(1, 5), (2, 2), (5, 1), (3, 3), (4, 4), (6, 6), (2, 6)]
    fronts = pareto.non_dominated_fronts(vectors)
    assert [sorted(front) for front in fronts] == [[0, 1, 2], [3, 6], [4], [5]]


def test_crowding_keeps_the_extremes_and_prefers_sparse_regions():
    vectors = [(0.0, 1.0), (0.1, 0.9), (0.15, 0.85), (0.6, 0.4), (1.0, 0.0)]
    distances = pareto.crowding_distances(vectors, list(range(5)))
    assert math.isinf(distances[0]) and math.isinf(distances[4])
    assert distances[1] == pytest.approx(0.3) and distances[2] == pytest.approx(1.0)
    assert distances[3] == pytest.approx(1.7)  # the sparsest neighbourhood
    assert pareto.rank_and_crowding([(1, 1), (2, 2)]) == [(0, math.inf), (1, math.inf)]


def make_trial(trial_id: str, accuracy: float, params: float) -> trial_module.Trial:
    trial = trial_module.Trial(keras_tuner.HyperParameters(), trial_id=trial_id,
                               status="COMPLETED")
    trial.metrics.register("val_accuracy", "max")
    trial.metrics.register("params", "min")
    trial.metrics.update("val_accuracy", accuracy, step=0)
    trial.metrics.update("params", params, step=0)
    trial.best_step = 0
    return trial


OBJECTIVES = [keras_tuner.Objective("val_accuracy", "max"), keras_tuner.Objective("params", "min")]


def test_the_front_of_trials_is_ordered_by_the_first_objective():
    trials = [make_trial("0", 0.90, 1000), make_trial("1", 0.95, 5000),
              make_trial("2", 0.80, 100), make_trial("3", 0.85, 6000), make_trial("4", 0.97, 90000)]
    front = pareto.pareto_front(trials, OBJECTIVES)
    assert [trial.trial_id for trial in front] == ["4", "1", "0", "2"]
    fronts = pareto.trial_fronts(trials, OBJECTIVES)
    assert [[trial.trial_id for trial in front] for front in fronts] == [["4", "1", "0", "2"],
                                                                          ["3"]]
    assert pareto.objective_vector(trials[0], OBJECTIVES) == (-0.90, 1000)


def test_the_knee_is_the_front_member_farthest_below_the_line_of_its_extremes():
    front = [make_trial("a", 0.99, 100_000), make_trial("b", 0.98, 5_000),
             make_trial("c", 0.90, 3_000), make_trial("d", 0.50, 100)]
    assert pareto.knee_point(front, OBJECTIVES).trial_id == "b"
    assert pareto.knee_point(front[:2], OBJECTIVES).trial_id == "a"


def test_a_trial_missing_an_objective_is_left_out():
    incomplete = trial_module.Trial(keras_tuner.HyperParameters(), trial_id="9",
                                    status="COMPLETED")
    assert pareto.objective_vector(incomplete, OBJECTIVES) is None
    front = pareto.pareto_front([incomplete, make_trial("1", 0.9, 10)], OBJECTIVES)
    assert front[0].trial_id == "1"


@pytest.mark.parametrize("objective,expected", [
    (keras_tuner.Objective("val_accuracy", "max"), 1),
    (MultiObjective(OBJECTIVES), 2)])
def test_objectives_of_a_single_and_a_multi_objective(objective, expected):
    assert len(pareto.objectives_of(objective)) == expected
