"""Estimates of a configuration's true score from its noisy evaluations."""

import math

import keras_tuner
import pytest
from keras_tuner.engine import trial as trial_module

from evokt.oracles import estimate


def scored(trial_id: str, score: float) -> trial_module.Trial:
    trial = trial_module.Trial(keras_tuner.HyperParameters(), trial_id=trial_id, status="COMPLETED")
    trial.score = score
    return trial


def test_reevaluations_join_their_first_trial_in_end_order():
    trials = [scored("0", 1.0), scored("1", 5.0), scored("2", 3.0), scored("3", 2.0)]
    configurations = estimate.group_by_configuration(trials, {"2": "0", "3": "0"})
    assert [c.trial.trial_id for c in configurations] == ["0", "1"]
    assert configurations[0].scores == (1.0, 3.0, 2.0)
    assert configurations[0].mean == 2.0
    assert configurations[1].scores == (5.0,)


def test_without_repeated_evaluations_the_estimate_is_the_score():
    configurations = estimate.group_by_configuration([scored("0", 0.7), scored("1", 0.9)], {})
    assert estimate.noise_deviation(configurations, "max") is None
    assert estimate.estimate_scores(configurations, "max") == {"0": 0.7, "1": 0.9}


@pytest.mark.parametrize("direction,sign", [("max", -1), ("min", 1)])
def test_the_estimate_is_the_mean_made_cautious_by_its_standard_error(direction, sign):
    scores = {"A": (0.7, 0.8, 0.75), "B": (0.9, 1.0, 0.95),
              "C": (0.2, 0.3, 0.25), "D": (0.0, 0.1, 0.05)}
    trials, reevaluations = [], {}
    for name, values in scores.items():
        for index, value in enumerate(values):
            trials.append(scored(f"{name}{index}", value))
            if index:
                reevaluations[f"{name}{index}"] = f"{name}0"
    configurations = estimate.group_by_configuration(trials, reevaluations)
    # Pooled over the better two (four degrees of freedom), each 0.05 apart.
    noise = estimate.noise_deviation(configurations, direction)
    assert noise == pytest.approx(0.05)
    estimates = estimate.estimate_scores(configurations, direction, penalty=1.0)
    for name, values in scores.items():
        assert estimates[f"{name}0"] == pytest.approx(sum(values) / 3 + sign * noise / math.sqrt(3))


def test_noise_counts_only_once_it_is_measured_from_enough_repeats():
    trials = [scored("0", 0.8), scored("1", 0.9), scored("2", 0.7), scored("3", 1.0)]
    configurations = estimate.group_by_configuration(trials, {"2": "0", "3": "1"})
    assert estimate.noise_deviation(configurations, "max") is None
    assert estimate.estimate_scores(configurations, "max") == {"0": 0.75, "1": 0.95}
    # Until the noise is known, any configuration could still be the best.
    assert estimate.estimate_scores(configurations, "max", penalty=-1.0) == {
        "0": math.inf, "1": math.inf}
    assert estimate.estimate_scores(configurations, "min", penalty=-1.0) == {
        "0": -math.inf, "1": -math.inf}


def test_a_single_lucky_score_ranks_below_a_checked_configuration_near_it():
    trials = [scored("0", 0.90), scored("1", 0.905), scored("2", 0.88), scored("3", 0.92),
              scored("4", 0.80), scored("5", 0.60), scored("6", 0.89), scored("7", 0.91)]
    configurations = estimate.group_by_configuration(
        trials, {"2": "0", "3": "0", "5": "4", "7": "6"})
    estimates = estimate.estimate_scores(configurations, "max")
    # "0" scored 0.90, 0.88 and 0.92; "1" once 0.905, within the noise of it.
    assert configurations[1].mean > configurations[0].mean
    assert estimates["0"] > estimates["1"]


def test_noise_is_measured_among_the_better_configurations():
    # The worse repeated configuration diverged once (a huge loss); the
    # better ones barely vary. Lower is better.
    firsts = {"0": 0.10, "1": 0.11, "2": 0.20, "3": 0.21, "4": 5.0}
    again = {"0": 0.12, "1": 0.10, "2": 0.21, "3": 0.19, "4": 500.0}
    trials = [scored(name, value) for name, value in firsts.items()]
    trials += [scored(f"{name}b", value) for name, value in again.items()]
    configurations = estimate.group_by_configuration(trials, {f"{name}b": name for name in again})
    assert 0 < estimate.noise_deviation(configurations, "min") < 0.02


def with_loss(trial: trial_module.Trial, loss: float) -> trial_module.Trial:
    trial.metrics.register("val_loss", "min")
    trial.metrics.update("val_loss", loss)
    return trial


def test_configurations_whose_estimates_tie_are_ordered_by_their_mean_loss():
    # Saturated accuracy: all three score 1.0; the mean validation loss decides.
    trials = [with_loss(scored("0", 1.0), 0.30), with_loss(scored("1", 1.0), 0.05),
              with_loss(scored("2", 1.0), 0.10), with_loss(scored("3", 1.0), 0.30)]
    ranking = estimate.rank(trials, {"3": "1"}, "max", ended=4,
                            tie_break=estimate.tie_break_metric("val_accuracy"))
    assert [c.trial.trial_id for c in ranking.ranked] == ["2", "1", "0"]
    assert ranking.ranked[1].mean_loss == pytest.approx(0.175)
    # The loss never outranks the objective itself.
    trials.append(with_loss(scored("4", 0.9), 0.01))
    ranking = estimate.rank(trials, {"3": "1"}, "max", ended=5, tie_break="val_loss")
    assert ranking.ranked[-1].trial.trial_id == "4"


def test_the_tie_break_is_the_loss_that_matches_the_objective():
    assert estimate.tie_break_metric("val_accuracy") == "val_loss"
    assert estimate.tie_break_metric("accuracy") == "loss"
    assert estimate.tie_break_metric("val_loss") is None
    assert estimate.tie_break_metric("val_mean_squared_error") == "val_loss"
