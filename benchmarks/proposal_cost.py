"""Milliseconds per proposal of each oracle, at a given number of completed trials.

Drives the real oracles through KerasTuner's own API (`create_trial`,
`update_trial`, `end_trial`) on a conditional MLP-like space with a synthetic
score, then times `populate_space` (choosing a child: the oracle's own cost)
and `create_trial` (that plus KerasTuner's bookkeeping and state files).

    python benchmarks/proposal_cost.py --trials 1000 --repeats 200
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_tuner  # noqa: E402

from evokt import GeneticOracle  # noqa: E402
from evokt import GreedyOracle  # noqa: E402

ORACLES = {
    "genetic": GeneticOracle,
    "greedy": GreedyOracle,
    "random": keras_tuner.oracles.RandomSearchOracle,
    "bayesian": keras_tuner.oracles.BayesianOptimizationOracle,
}
MAX_LAYERS = 4


def search_space() -> keras_tuner.HyperParameters:
    hp = keras_tuner.HyperParameters()
    hp.Int("num_layers", 1, MAX_LAYERS)
    for i in range(MAX_LAYERS):
        with hp.conditional_scope("num_layers", list(range(i + 1, MAX_LAYERS + 1))):
            hp.Int(f"units_{i}", 16, 512, step=2, sampling="log")
            hp.Choice(f"activation_{i}", ["relu", "tanh", "elu", "gelu"])
    hp.Float("dropout", 0.0, 0.5, step=0.1)
    hp.Boolean("batch_norm")
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    return hp


def score(values: dict) -> float:
    total = -abs(values["num_layers"] - 3) - abs(math.log10(values["learning_rate"]) + 2.5)
    for i in range(values["num_layers"]):
        total -= abs(math.log2(values[f"units_{i}"]) - 7) / 4
    return total


def measure(name: str, completed: int, repeats: int) -> tuple[float, float]:
    # The probes below call populate_space without creating trials; with
    # re-evaluation on, each would re-evaluate the leader (the cheap path).
    # Time the costly one: a new configuration chosen by the model.
    options = {"max_evaluations": 1} if name in ("genetic", "greedy") else {}
    oracle = ORACLES[name](
        objective=keras_tuner.Objective("score", "max"),
        max_trials=completed + 2 * repeats + 1,
        hyperparameters=search_space(),
        seed=1,
        **options,
    )
    oracle._set_project_dir(tempfile.mkdtemp(prefix="evokt-bench-"), "project")
    oracle.verbose = 0
    create_times = []
    for _ in range(completed + repeats):
        started = time.perf_counter()
        trial = oracle.create_trial("tuner0")
        create_times.append(time.perf_counter() - started)
        oracle.update_trial(trial.trial_id, {"score": score(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    populate_times = []
    for index in range(repeats):
        started = time.perf_counter()
        oracle.populate_space(f"probe{index}")
        populate_times.append(time.perf_counter() - started)
    return (
        1000 * statistics.median(populate_times),
        1000 * statistics.median(create_times[-repeats:]),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--oracles", nargs="+", default=["genetic", "greedy", "random"],
                        choices=list(ORACLES))
    args = parser.parse_args(argv)
    print(f"{'oracle':<10} {'completed':>9} {'populate_space ms':>18} {'create_trial ms':>16}")
    for completed in args.trials:
        for name in args.oracles:
            populate, create = measure(name, completed, args.repeats)
            print(f"{name:<10} {completed:>9} {populate:>18.3f} {create:>16.3f}", flush=True)


if __name__ == "__main__":
    main()
