"""Multi-fidelity search: genetic-hyperband, KerasTuner's Hyperband and DEHB on mfh3 and mfh6.

The multi-fidelity Hartmann functions of `mf-prior-bench` (`mfh3`, `mfh6`:
synthetic, no download) take a fidelity `z` from 1 to 100, which plays the
part of training epochs: at lower fidelities the function is flattened (bias)
and noisy, at `z = 100` it is the exact Hartmann function. evokt's
`GeneticHyperbandOracle` and KerasTuner's `HyperbandOracle` are driven through
KerasTuner's Oracle API (`create_trial`, `update_trial`, `end_trial`), the
`dehb` package through its `ask`/`tell` API, side by side on the same seeds:

- Fidelities: `max_epochs=100`, `factor=3` for all three, so every method's
  rungs are 2, 4, 12, 34 and 100 (DEHB's 1.23 ... 100, rounded up as
  KerasTuner rounds epochs).
- Budget: fidelity units, where an evaluation of a configuration that was
  already evaluated at a lower fidelity costs only the fidelity it adds (a
  promotion that continues from a checkpoint). The same rule charges all
  three; a method is stopped before an evaluation the rest of the budget
  cannot pay for.
- Score: the regret of what each method recommends (its best trial:
  `get_best_trials(1)`, DEHB's incumbent), the true Hartmann value at
  `z = 100` minus the optimum; the anytime curve follows the best observed
  trial, which is what all three recommend.

    python benchmarks/multifidelity.py --seeds 30 --budget 30 --plots docs/img
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
from tabular import quartiles  # noqa: E402
from tabular import run_many  # noqa: E402

from evokt.oracles.genetic_hyperband import GeneticHyperbandOracle  # noqa: E402

BENCHMARKS = {"mfh3": "Multi-fidelity Hartmann 3", "mfh6": "Multi-fidelity Hartmann 6"}
METHODS = ["genetic-hyperband", "hyperband", "dehb"]
MAX_FIDELITY = 100
FACTOR = 3
# Points of the anytime curve, evenly spaced in the budget.
CURVE_POINTS = 100


class Problem:
    """One benchmark instance: evaluations, the budget they cost, the regret.

    Args:
        name: `mfh3` or `mfh6`.
        seed: Seed of the function's evaluation noise.
        budget: Fidelity units the search may spend.
    """

    def __init__(self, name: str, seed: int, budget: int):
        import mfpbench

        self.benchmark = mfpbench.get(name, seed=seed)
        self.dims = len(self.benchmark.space)
        self.optimum = self.true_value(dict(self.benchmark.optimum.as_dict()))
        self.budget = budget
        self.spent = 0
        self._fidelity_reached: dict[tuple, int] = {}
        self.best_value = math.inf
        self.best_config: dict | None = None
        # (budget spent, regret of the best observed configuration) after each evaluation.
        self.trace: list[tuple[int, float]] = []

    def names(self) -> list[str]:
        return [f"X_{i}" for i in range(self.dims)]

    def cost(self, config: dict, fidelity: int) -> int:
        """Fidelity this evaluation adds to what the same configuration had."""
        key = tuple(config[name] for name in self.names())
        return max(0, fidelity - self._fidelity_reached.get(key, 0))

    def affordable(self, config: dict, fidelity: int) -> bool:
        return self.spent + self.cost(config, fidelity) <= self.budget

    def evaluate(self, config: dict, fidelity: int) -> float:
        """The function's value at `fidelity`, charged to the budget."""
        key = tuple(config[name] for name in self.names())
        self.spent += self.cost(config, fidelity)
        self._fidelity_reached[key] = max(fidelity, self._fidelity_reached.get(key, 0))
        point = dict(zip(self.names(), key, strict=True))
        value = float(self.benchmark.query(point, at=fidelity).error)
        if value < self.best_value:
            self.best_value, self.best_config = value, point
        self.trace.append((self.spent, self.regret(self.best_config)))
        return value

    def true_value(self, config: dict) -> float:
        return float(self.benchmark.query(config, at=MAX_FIDELITY).error)

    def regret(self, config: dict) -> float:
        return self.true_value({name: config[name] for name in self.names()}) - self.optimum


def search_space(dims: int) -> keras_tuner.HyperParameters:
    hp = keras_tuner.HyperParameters()
    for i in range(dims):
        hp.Float(f"X_{i}", 0.0, 1.0)
    return hp


def oracle_seed(seed: int) -> int:
    """A KerasTuner oracle's seed for a run's seed.

    KerasTuner's random values draw from `Random(seed_state)` with the state
    counting up from the seed, so the seeds 1, 2, 3 ... would give runs that
    repeat each other's configurations shifted by a few draws; and seed 0 is
    replaced by a random one. Spaced seeds keep the runs independent.
    """
    return 1 + 100_000 * seed


def run_keras_tuner_oracle(problem: Problem, method: str, seed: int, directory: str) -> dict:
    objective = keras_tuner.Objective("value", "min")
    space = search_space(problem.dims)
    if method == "genetic-hyperband":
        oracle = GeneticHyperbandOracle(
            objective=objective, max_epochs=MAX_FIDELITY, factor=FACTOR,
            max_epochs_budget=problem.budget, hyperparameters=space, seed=oracle_seed(seed))
    else:
        oracle = keras_tuner.oracles.HyperbandOracle(
            objective=objective, max_epochs=MAX_FIDELITY, factor=FACTOR,
            hyperband_iterations=None, hyperparameters=space, seed=oracle_seed(seed))
    oracle._set_project_dir(directory, "project")
    oracle.verbose = 0
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        values = trial.hyperparameters.values
        if not problem.affordable(values, values["tuner/epochs"]):
            break
        value = problem.evaluate(values, values["tuner/epochs"])
        oracle.update_trial(trial.trial_id, {"value": value})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return oracle.get_best_trials(1)[0].hyperparameters.values


def run_dehb(problem: Problem, seed: int, directory: str) -> dict:
    import ConfigSpace
    from dehb import DEHB
    from loguru import logger

    logger.disable("dehb")
    space = ConfigSpace.ConfigurationSpace(seed=seed)
    space.add([ConfigSpace.UniformFloatHyperparameter(name, 0.0, 1.0) for name in problem.names()])
    optimizer = DEHB(cs=space, dimensions=problem.dims, min_fidelity=MAX_FIDELITY / FACTOR**4,
                     max_fidelity=MAX_FIDELITY, eta=FACTOR, n_workers=1, seed=seed,
                     output_path=directory, save_freq="end")
    while True:
        job = optimizer.ask()
        config = dict(job["config"])
        # Fidelities as KerasTuner rounds epochs: 1.23 -> 2, ..., 33.3 -> 34.
        fidelity = math.ceil(round(job["fidelity"], 6))
        if not problem.affordable(config, fidelity):
            break
        value = problem.evaluate(config, fidelity)
        optimizer.tell(job, {"fitness": value, "cost": float(fidelity)})
    incumbent, _ = optimizer.get_incumbents()
    return dict(incumbent)


def run_once(benchmark: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    """One search; the regret of its recommendation and its anytime curve."""
    problem = Problem(benchmark, seed, budget)
    memory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    directory = tempfile.mkdtemp(prefix="evokt-mf-", dir=memory)
    started = time.perf_counter()
    try:
        if method == "dehb":
            recommended = run_dehb(problem, seed, directory)
        else:
            recommended = run_keras_tuner_oracle(problem, method, seed, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    grid = np.linspace(budget / CURVE_POINTS, budget, CURVE_POINTS)
    spent = [point[0] for point in problem.trace]
    curve = []
    for point in grid:
        index = int(np.searchsorted(spent, point, side="right")) - 1
        curve.append(problem.trace[index][1] if index >= 0 else math.nan)
    return {
        "benchmark": benchmark, "method": method, "seed": seed, "budget": budget,
        "spent": problem.spent, "evaluations": len(problem.trace),
        "regret": problem.regret(recommended), "curve": curve,
        "seconds": time.perf_counter() - started,
    }


def _job(job: tuple) -> dict[str, Any]:
    return run_once(*job)


def summarize(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for result in results:
        groups.setdefault((result["benchmark"], result["method"]), []).append(result)
    summary = {}
    for key, runs in groups.items():
        q1, median, q3 = quartiles([run["regret"] for run in runs])
        curves = np.array([run["curve"] for run in runs])
        summary[key] = {
            "seeds": len(runs), "median": median, "q1": q1, "q3": q3,
            "evaluations": float(np.median([run["evaluations"] for run in runs])),
            "spent": float(np.median([run["spent"] for run in runs])),
            "seconds": float(np.median([run["seconds"] for run in runs])),
            "curve": np.nanmedian(curves, axis=0).tolist(),
            "budget": runs[0]["budget"],
        }
    return summary


def plot_curves(summary: dict, benchmark: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for (name, method), row in sorted(summary.items()):
        if name == benchmark:
            budget = row["budget"]
            grid = np.linspace(budget / CURVE_POINTS, budget, CURVE_POINTS) / MAX_FIDELITY
            axes.plot(grid, row["curve"], label=f"{method} ({row['seeds']} seeds)")
    axes.set_yscale("log")
    axes.set_xlabel(f"budget spent (full-fidelity evaluations, z = {MAX_FIDELITY})")
    axes.set_ylabel("median regret")
    axes.set_title(BENCHMARKS[benchmark])
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS),
                        choices=list(BENCHMARKS))
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--budget", type=int, default=30,
                        help="fidelity budget, in full-fidelity evaluations (x 100 units)")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--plots", help="folder for anytime-regret PNGs")
    args = parser.parse_args(argv)

    budget = args.budget * MAX_FIDELITY
    jobs = [(benchmark, method, seed, budget) for benchmark in args.benchmarks
            for method in args.methods for seed in range(args.seeds)]
    started = time.monotonic()
    summary = summarize(run_many(jobs, args.processes, _job))
    print(f"{'benchmark':<9} {'method':<18} {'seeds':>5} {'budget':>6} {'median regret':>13} "
          f"{'IQR':>21} {'evals':>6} {'s/run':>6}")
    for (benchmark, method), row in sorted(summary.items()):
        print(f"{benchmark:<9} {method:<18} {row['seeds']:>5} {budget:>6} {row['median']:>13.4g} "
              f"[{row['q1']:>9.3g}, {row['q3']:>9.3g}] {row['evaluations']:>6.0f} "
              f"{row['seconds']:>6.2f}")
    print(f"({time.monotonic() - started:.0f} s)")
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        for benchmark in args.benchmarks:
            plot_curves(summary, benchmark, os.path.join(args.plots, f"regret-{benchmark}.png"))
    return summary


if __name__ == "__main__":
    main()
