"""Real training: the strategies on bundled datasets at an equal epoch budget.

A fifth of each dataset (`digits`, `breast_cancer`) is held out as a test
split first; the rest is split into training and validation parts as `evokt
search` does. Each strategy gets the same budget of training epochs
(`--trials` x `--epochs`): Hyperband trains trials for varying numbers of
epochs and is stopped once it has used the budget; genetic-hyperband is
given it as its `max_epochs_budget` and stops itself. A trial that continues
another's checkpoint counts only the epochs it adds. The table reports the
best validation accuracy, the test accuracy of the model the search chose,
the epochs used and the wall time.

    python benchmarks/training.py --seeds 5 --trials 10 --epochs 9 \
        --strategies genetic-hyperband hyperband genetic random
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from hypermodels import default_objective  # noqa: E402
from hypermodels import hypermodel_for  # noqa: E402
from hypermodels.data import BUILTIN_DATASETS  # noqa: E402
from hypermodels.data import prepare  # noqa: E402
from tuner_ext.search.observe import SearchObserver  # noqa: E402
from tuner_ext.search.strategies import EPOCH_BUDGETED  # noqa: E402
from tuner_ext.search.strategies import create_tuner  # noqa: E402

STRATEGIES = ["genetic", "greedy", "random", "bayesian", "hyperband", "genetic-hyperband"]
DATASETS = ["digits", "breast_cancer"]
# Hypermodels that fit each dataset: the CNN needs images.
HYPERMODELS = {"digits": ["mlp", "cnn"], "breast_cancer": ["mlp"]}


class EpochBudget(SearchObserver):
    """Counts training epochs and stops the oracle once `budget` is used."""

    def __init__(self, budget: int, epochs_per_trial: int):
        self.budget = budget
        self.epochs_per_trial = epochs_per_trial
        self.used = 0

    def trial_ended(self, oracle, trial) -> None:
        values = trial.hyperparameters.values
        if "tuner/epochs" in values:  # Hyperband resumes trials from their last epoch
            self.used += values["tuner/epochs"] - values.get("tuner/initial_epoch", 0)
        else:
            self.used += self.epochs_per_trial
        if self.used >= self.budget:
            oracle.max_trials = len(oracle.trials)


def split(name: str, seed: int):
    """The dataset as `evokt search` loads it, less a held-out test fifth."""
    loader, task = BUILTIN_DATASETS[name]
    x, y, feature_names = loader()
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, random_state=seed, stratify=y)
    dataset = prepare(name, x_rest, y_rest, task=task, feature_names=feature_names, seed=seed)
    return dataset, x_test.astype("float32"), y_test


def run_once(strategy: str, dataset_name: str, hypermodel: str, seed: int, trials: int,
             epochs: int) -> dict[str, Any]:
    dataset, x_test, y_test = split(dataset_name, seed)
    keras.utils.set_random_seed(seed)
    budget = EpochBudget(trials * epochs, epochs)
    directory = tempfile.mkdtemp(prefix="evokt-training-")
    started = time.monotonic()
    try:
        tuner = create_tuner(
            strategy,
            hypermodel_for(dataset, hypermodel),
            objective=default_objective(dataset.task),
            # Hyperband's trials are short, so it may run more of them in the budget.
            max_trials=trials * (epochs if strategy == "hyperband" else 1),
            max_epochs_budget=trials * epochs if strategy in EPOCH_BUDGETED else None,
            epochs=epochs,
            seed=seed,
            directory=directory,
            project_name="search",
            overwrite=True,
            observer=budget,
        )
        tuner.search(dataset.x_train, dataset.y_train,
                     validation_data=(dataset.x_val, dataset.y_val), epochs=epochs, verbose=0)
        best_trial = tuner.oracle.get_best_trials(1)[0]
        model = tuner.load_model(best_trial)
        predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {
        "strategy": strategy, "dataset": dataset_name, "hypermodel": hypermodel, "seed": seed,
        "val_accuracy": best_trial.score, "test_accuracy": float(np.mean(predicted == y_test)),
        "trials": len(tuner.oracle.trials), "epochs": budget.used,
        "seconds": time.monotonic() - started,
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES, choices=STRATEGIES)
    parser.add_argument("--datasets", nargs="+", default=["digits"], choices=DATASETS)
    parser.add_argument("--hypermodels", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"],
                        help="those that fit each dataset are run (the CNN on digits only)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)

    cases = [(name, hypermodel) for name in args.datasets for hypermodel in args.hypermodels
             if hypermodel in HYPERMODELS[name]]
    rows = [run_once(strategy, name, hypermodel, seed, args.trials, args.epochs)
            for name, hypermodel in cases for strategy in args.strategies
            for seed in range(args.seeds)]
    print(f"{'dataset':<13} {'hypermodel':<10} {'strategy':<17} {'seeds':>5} {'val acc':>16} "
          f"{'test acc':>16} {'trials':>6} {'epochs':>6} {'seconds':>8}")
    for name, hypermodel in cases:
        for strategy in args.strategies:
            group = [r for r in rows if r["strategy"] == strategy and r["hypermodel"] == hypermodel
                     and r["dataset"] == name]

            def spread(key: str, group: list[dict] = group) -> str:
                values = [r[key] for r in group]
                return f"{statistics.mean(values):.4f} ± {statistics.pstdev(values):.4f}"

            print(f"{name:<13} {hypermodel:<10} {strategy:<17} {len(group):>5} "
                  f"{spread('val_accuracy'):>16} "
                  f"{spread('test_accuracy'):>16} "
                  f"{statistics.mean(r['trials'] for r in group):>6.1f} "
                  f"{statistics.mean(r['epochs'] for r in group):>6.1f} "
                  f"{statistics.mean(r['seconds'] for r in group):>8.1f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
