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

from evokt import GreedyOracle


def make_oracle(project_dir, direction="max", **kwargs):
    kwargs.setdefault("max_trials", 200)
    oracle = GreedyOracle(
        objective=keras_tuner.Objective("score", direction),
        hyperparameters=kwargs.pop("space", conditional_space)(),
        seed=kwargs.pop("seed", 1),
        **kwargs,
    )
    return start_oracle(oracle, project_dir)


def changed_names(parent: dict, child: dict) -> set:
    return {name for name in set(parent) | set(child) if parent.get(name) != child.get(name)}


def record_children(oracle: GreedyOracle) -> dict:
    """Records `oracle`'s children: values key -> the lowest strength one was bred at."""
    children: dict = {}
    breed = oracle.breed

    def recording(rng, strength):
        child = breed(rng, strength)
        if child is not None:
            children.setdefault(values_key(child), strength)
        return child

    oracle.breed = recording
    return children


def test_after_random_starts_each_proposal_is_a_small_step_from_the_best(project_dir):
    # A proposal is the model's pick of `candidates` untried candidates,
    # children of the best bred one after another. Each collision with a
    # tried configuration raises the strength of the children bred after it
    # in this proposal, and `EvolutionaryOracle.mutate` changes `strength // 3`
    # more values: from the third collision on, a child may change more than
    # max_mutations values, and the model may pick it. When fewer than
    # `candidates` untried children come out of the tries (the best's
    # neighbourhood is small and mostly tried), draws from the model fill
    # the rest; a draw is no step from the best and may differ anywhere
    # (as may a random configuration, before the model has enough trials).
    oracle = make_oracle(project_dir, random_starts=5, max_mutations=2, max_trials=60)
    children = record_children(oracle)
    run_trials(oracle, 5)
    steps = 0
    for _ in range(40):
        best = oracle.get_best_trials(1)[0].hyperparameters.values
        tried = {values_key(t.hyperparameters.values) for t in oracle.trials.values()}
        children.clear()
        trial = run_trials(oracle, 1)[0]
        values = trial.hyperparameters.values
        if trial.trial_id in oracle.reevaluations():
            # Not a step: the same values as an earlier, completed trial.
            first = oracle.trials[oracle.reevaluations()[trial.trial_id]]
            assert first.status == "COMPLETED"
            assert values == first.hyperparameters.values
            continue
        untried = {key: strength for key, strength in children.items() if key not in tried}
        if values_key(values) not in untried:  # a draw: only when breeding fell short
            assert len(untried) < oracle.candidates
            continue
        steps += 1
        changed = changed_names(best, values)
        assert changed
        if values["num_layers"] == best["num_layers"]:  # no layer added or dropped
            assert len(changed) <= 2 + untried[values_key(values)] // 3
    assert steps > 20  # the rest: re-evaluations, and a draw or none (32 steps here)


@pytest.mark.parametrize("direction,sign", [("max", 1), ("min", -1)])
def test_climbs_in_the_objective_direction(project_dir, direction, sign):
    oracle = make_oracle(project_dir, direction=direction, max_trials=150)
    trials = run_trials(oracle, 150, score=lambda v: sign * peak_score(v))
    starts = [peak_score(t.hyperparameters.values) for t in trials[:10]]
    best = max(peak_score(t.hyperparameters.values) for t in trials)
    assert best > max(starts)
    late = [peak_score(t.hyperparameters.values) for t in trials[-50:]]
    assert statistics.median(late) > statistics.median(starts)


def test_no_duplicates_determinism_and_resume(tmp_path):
    whole = make_oracle(str(tmp_path / "whole"), space=continuous_space, max_trials=60)
    whole_trials = run_trials(whole, 60, score=NoisyScore())
    expected = [values_key(t.hyperparameters.values) for t in whole_trials]
    assert repeats_outside(whole_trials, whole.reevaluations()) == []
    assert whole.reevaluations()

    directory = str(tmp_path / "resumed")
    score = NoisyScore()
    head = run_trials(make_oracle(directory, space=continuous_space, max_trials=60), 37,
                      score=score)
    resumed = make_oracle(directory, space=continuous_space, max_trials=60)
    resumed.reload()
    tail = run_trials(resumed, 60, score=score)
    assert [values_key(t.hyperparameters.values) for t in head + tail] == expected
    assert resumed.reevaluations() == whole.reevaluations()


def test_initial_hps_are_the_first_proposals(project_dir):
    oracle = make_oracle(project_dir, initial_hps=[{"num_layers": 3, "units_2": 128}])
    first = run_trials(oracle, 1)[0].hyperparameters.values
    assert first["num_layers"] == 3 and first["units_2"] == 128


@pytest.mark.parametrize(
    "kwargs,message",
    [({"random_starts": 0}, "random_starts"), ({"max_mutations": 0}, "max_mutations"),
     ({"model_draw_share": 1.1}, "model_draw_share")],
)
def test_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GreedyOracle(objective=keras_tuner.Objective("score", "max"), **kwargs)


def test_climbs_from_the_lowest_loss_among_tied_best_scores(project_dir):
    """Saturated accuracy: the climb starts where `get_best_trials` points,
    the configuration with the lowest validation loss, not the first tied one."""
    oracle = start_oracle(GreedyOracle(
        objective=keras_tuner.Objective("val_accuracy", "max"),
        hyperparameters=conditional_space(), seed=1, max_trials=20, random_starts=5,
        max_mutations=1, max_evaluations=1, candidates=1), project_dir)
    losses = {}
    for number in range(5):
        trial = oracle.create_trial("tuner0")
        losses[trial.trial_id] = 0.5 - 0.1 * ((number * 3) % 5)  # the lowest is the 4th
        oracle.update_trial(trial.trial_id, {"val_accuracy": 1.0,
                                             "val_loss": losses[trial.trial_id]})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    lowest = min(losses, key=losses.get)
    assert oracle.get_best_trials(1)[0].trial_id == lowest
    child = oracle.create_trial("tuner0").hyperparameters.values
    distances = {trial_id: len(changed_names(oracle.trials[trial_id].hyperparameters.values,
                                             child))
                 for trial_id in losses}
    assert min(distances, key=distances.get) == lowest
    assert all(distances[trial_id] > distances[lowest] for trial_id in losses if trial_id != lowest)
