"""The multi-objective benchmark's scoring: Pareto front, hypervolume, a table's truth."""

import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import multiobjective  # noqa: E402
from multiobjective import hypervolume  # noqa: E402
from multiobjective import normalise  # noqa: E402
from multiobjective import pareto_front  # noqa: E402


def brute_force_front(points):
    return {tuple(p) for p in points
            if not any((q <= p).all() and (q < p).any() for q in points)}


def brute_force_hypervolume(points, reference, grid=400):
    # Share of a fine grid's cell centres that some point dominates.
    xs = (np.arange(grid) + 0.5) / grid * reference[0]
    ys = (np.arange(grid) + 0.5) / grid * reference[1]
    cx, cy = np.meshgrid(xs, ys)
    covered = np.zeros_like(cx, dtype=bool)
    for x, y in points:
        covered |= (cx >= x) & (cy >= y)
    return covered.mean() * reference[0] * reference[1]


def test_front_keeps_exactly_the_non_dominated_points_sorted_by_the_first():
    points = np.array([[0.5, 0.5], [0.2, 0.9], [0.6, 0.6], [0.9, 0.1], [0.2, 0.95], [0.5, 0.5]])
    front = pareto_front(points)
    assert front.tolist() == [[0.2, 0.9], [0.5, 0.5], [0.9, 0.1]]


def test_front_matches_brute_force_on_random_points_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(30):
        points = rng.integers(0, 8, size=(40, 2)).astype(float)
        assert {tuple(p) for p in pareto_front(points)} == brute_force_front(points)


def test_hypervolume_of_simple_sets_by_hand():
    reference = (1.1, 1.1)
    assert hypervolume(np.empty((0, 2)), reference) == 0.0
    assert hypervolume([[0.1, 0.1]], reference) == pytest.approx(1.0)
    # Two rectangles: 1.0 x 0.6 for (0.1, 0.5), then 0.6 x 0.4 for (0.5, 0.1).
    assert hypervolume([[0.1, 0.5], [0.5, 0.1]], reference) == pytest.approx(0.6 + 0.24)
    # A dominated point and points beyond the reference add nothing.
    assert hypervolume([[0.1, 0.5], [0.5, 0.1], [0.6, 0.6], [1.2, 0.0], [0.0, 1.1]],
                       reference) == pytest.approx(0.84)


def test_hypervolume_matches_a_grid_estimate_on_random_sets():
    rng = np.random.default_rng(1)
    for _ in range(5):
        points = rng.uniform(0, 1.3, size=(15, 2))
        assert hypervolume(points, (1.1, 1.1)) == pytest.approx(
            brute_force_hypervolume(points, (1.1, 1.1)), abs=0.01)


def test_normalise_maps_best_quality_to_0_median_to_1_and_cost_to_0_1():
    points = normalise([3.0, 1.0, 2.0, 10.0, 5.0], [4.0, 2.0, 6.0, 2.0, 3.0])
    assert points[:, 0].tolist() == pytest.approx([1.0, 0.0, 0.5, 4.5, 2.0])
    assert points[:, 1].tolist() == pytest.approx([0.5, 0.0, 1.0, 0.0, 0.25])


def test_regret_is_zero_on_a_table_true_front_and_grows_without_a_front_point():
    truth = multiobjective.truth("cifar10-size")
    assert truth.points[:, 0].min() == 0.0 and np.median(truth.points[:, 0]) == pytest.approx(1.0)
    assert truth.points[:, 1].min() == 0.0 and truth.points[:, 1].max() == 1.0
    assert truth.hypervolume == pytest.approx(hypervolume(truth.points))
    front_keys = [key for key, row in truth.rows.items()
                  if any((truth.points[row] == point).all() for point in truth.front)]
    assert truth.regret(front_keys) == pytest.approx(0.0, abs=1e-12)
    # Without the most accurate point the front loses the area only it dominates.
    best_quality = truth.front[0, 0]
    rest = [key for key in front_keys if truth.points[truth.rows[key], 0] != best_quality]
    assert truth.regret(rest) == pytest.approx(
        (truth.front[1, 0] - best_quality) * (multiobjective.REFERENCE[1] - truth.front[0, 1]))
    assert truth.regret(rest) > 0
    assert truth.regret([]) == pytest.approx(truth.hypervolume)


def test_evaluation_draws_both_metrics_from_one_training_seed():
    # A NAS-Bench-201 cell whose recorded model size differs between seeds.
    key = "142120"
    noisy = multiobjective.load_pair("cifar10-size", seed=3)
    space = noisy.table.benchmark.search_space
    values = {name: choices[int(digit)]
              for (name, choices), digit in zip(space.items(), key, strict=True)}
    row = noisy.table.benchmark._dataset[key]
    recorded = {(100.0 - accuracy, size)
                for accuracy, size in zip(row["val_acc"], row["model_size"], strict=True)}
    draws = [noisy.evaluate(values) for _ in range(30)]
    assert {(draw["val_error"], draw["model_size"]) for draw in draws} == recorded
    again = multiobjective.load_pair("cifar10-size", seed=3)
    assert [again.evaluate(values) for _ in range(30)] == draws


def test_runs_of_different_seeds_share_no_proposal_sequence():
    # KerasTuner's random oracle seeded s and s + 6 (NAS-Bench-201's six
    # operations) would propose the same cells one trial apart.
    runs = [multiobjective.run_once("cifar10-size", "random", seed, 12)["keys"]
            for seed in range(8)]
    for seed in range(2):
        assert len(set(runs[seed]) & set(runs[seed + 6])) <= 1


def member(trial: str, val_accuracy: float, params: int) -> dict:
    return {"trial": trial, "val_accuracy": val_accuracy, "params": params}


def test_the_real_front_is_judged_by_a_close_model_a_fifth_the_size():
    from pareto_digits import small_and_close

    # The front is ordered by accuracy, best first.
    front = [member("3", 0.980, 100_000), member("7", 0.975, 30_000), member("1", 0.972, 15_000),
             member("4", 0.90, 2_000)]
    assert small_and_close(front)["trial"] == "1"  # 0.8 points less, 15 % of the size
    assert small_and_close(front[:2]) is None  # close, but 30 % of the size
    assert small_and_close([front[0], front[3]]) is None  # small, but 8 points less
