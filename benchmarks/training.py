"""Real training: the strategies on bundled datasets at an equal epoch budget.

A fifth of each dataset (`digits`, `breast_cancer`, `iris`) is held out as a
test split first; the rest is split into training and validation parts as
`evokt search` does. Each strategy gets the same budget of training epochs
(`--trials` x `--epochs`): Hyperband trains trials for varying numbers of
epochs and is stopped once it has used the budget; genetic-hyperband is
given it as its `max_epochs_budget` and stops itself. A trial that continues
another's checkpoint counts only the epochs it adds. `genetic-plain` is the
genetic oracle as it was before the noise-aware parts (no re-evaluation, no
screening of candidates, a tournament of three quarters of the population);
`genetic-median` is today's genetic oracle with the median stopping rule, its
epochs those its trials trained before they were stopped:

    python benchmarks/training.py --strategies genetic genetic-median --hypermodels mlp \
        --seeds 3 --trials 30 --epochs 20 --processes 2 --jsonl early_stopping.jsonl

The table reports, per dataset, hypermodel and strategy, the mean and spread
over seeds of: the validation accuracy of the model the search chose (its own
trial's score), its test accuracy, their gap (how much of the validation
score was luck of the draw), the trials, the epochs used and the wall time.
Searches run in `--processes` processes of one TensorFlow thread each; each
finished search is appended to `--jsonl` as it ends, so a long run can be
tabulated (`--table-only`) while it goes on or after it stopped.

    python benchmarks/training.py --seeds 5 --trials 30 --epochs 5 --processes 2 \
        --datasets digits breast_cancer iris --jsonl training.jsonl
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from seeds import search_seed  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from evokt.hypermodels import default_objective  # noqa: E402
from evokt.hypermodels import hypermodel_for  # noqa: E402
from evokt.hypermodels.data import BUILTIN_DATASETS  # noqa: E402
from evokt.hypermodels.data import prepare  # noqa: E402
from evokt.oracles.defaults import default_population_size  # noqa: E402
from evokt.oracles.defaults import three_quarters_sample  # noqa: E402
from evokt.oracles.early_stopping import stopped_epoch  # noqa: E402
from evokt.search.observe import SearchObserver  # noqa: E402
from evokt.search.spec import SearchSpec  # noqa: E402
from evokt.search.strategies import EPOCH_BUDGETED  # noqa: E402
from evokt.search.strategies import create_tuner  # noqa: E402
from evokt.threads import set_tensorflow_threads  # noqa: E402


def genetic_plain_options(trials: int) -> dict[str, Any]:
    """The genetic oracle as issue 10 found it: no re-evaluation, no model
    screening, a tournament of three quarters of the population.

    Args:
        trials: The search's budget of trials.
    """
    return {"candidates": 1, "max_evaluations": 1,
            "sample_size": three_quarters_sample(default_population_size(trials))}


# Benchmark-only variants: a name, the strategy it runs and its options for a
# budget of so many trials.
VARIANTS: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "genetic-plain": ("genetic", genetic_plain_options),
    # Today's genetic oracle with the median stopping rule (`--early-stopping median`).
    "genetic-median": ("genetic", lambda trials: {"early_stopping": "median"})}
STRATEGIES = ["genetic", "greedy", "random", "bayesian", "hyperband", "genetic-hyperband",
              *VARIANTS]
DATASETS = ["digits", "breast_cancer", "iris"]
# Hypermodels that fit each dataset: the CNN needs images.
HYPERMODELS = {"digits": ["mlp", "cnn"], "breast_cancer": ["mlp"], "iris": ["mlp"]}


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
        elif stopped_epoch(trial) is not None:  # stopped early, after this many epochs
            self.used += stopped_epoch(trial) + 1
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
    """One search of `strategy` and the test accuracy of the model it chose."""
    dataset, x_test, y_test = split(dataset_name, seed)
    keras.utils.set_random_seed(search_seed(seed))
    runs, variant_options = VARIANTS.get(strategy, (strategy, None))
    options = variant_options(trials) if variant_options else {}
    budget = EpochBudget(trials * epochs, epochs)
    directory = tempfile.mkdtemp(prefix="evokt-training-")
    started = time.monotonic()
    try:
        spec = SearchSpec(
            dataset=dataset_name, oracle=runs, epochs=epochs, seed=search_seed(seed),
            # Hyperband's trials are short, so it may run more of them in the budget.
            max_trials=trials * (epochs if runs == "hyperband" else 1),
            max_epochs_budget=trials * epochs if runs in EPOCH_BUDGETED else None,
            oracle_options=options)
        tuner = create_tuner(spec, hypermodel_for(dataset, hypermodel),
                             objective=default_objective(dataset.task), directory=directory,
                             project_name="search", overwrite=True, observer=budget)
        tuner.search(dataset.x_train, dataset.y_train,
                     validation_data=(dataset.x_val, dataset.y_val), epochs=epochs, verbose=0)
        best_trial = tuner.oracle.get_best_trials(1)[0]
        model = tuner.load_model(best_trial)
        predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        keras.backend.clear_session()
    test_accuracy = float(np.mean(predicted == y_test))
    return {
        "strategy": strategy, "dataset": dataset_name, "hypermodel": hypermodel, "seed": seed,
        "val_accuracy": best_trial.score, "test_accuracy": test_accuracy,
        "gap": best_trial.score - test_accuracy,
        "trials": len(tuner.oracle.trials), "epochs": budget.used,
        "stopped": sum(stopped_epoch(trial) is not None for trial in tuner.oracle.trials.values()),
        "seconds": time.monotonic() - started,
    }


def run_job(job: tuple) -> dict[str, Any]:
    """`run_once` of one tuple of its arguments, for `Pool.imap_unordered`."""
    return run_once(*job)


def one_thread() -> None:
    """Each search process trains on one TensorFlow thread (set once, at its start)."""
    set_tensorflow_threads(1)


def run_all(jobs: list[tuple], processes: int, jsonl: str | None) -> list[dict[str, Any]]:
    """Runs `jobs` (arguments of `run_once`) in `processes` fresh processes."""
    rows = []
    # Spawned, not forked: TensorFlow is loaded here already.
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=one_thread, maxtasksperchild=5) as pool:
        for row in pool.imap_unordered(run_job, jobs):
            rows.append(row)
            print(f"{row['dataset']} {row['hypermodel']} {row['strategy']} seed {row['seed']}: "
                  f"val {row['val_accuracy']:.4f} test {row['test_accuracy']:.4f} "
                  f"({row['trials']} trials, {row['epochs']} epochs, {row['seconds']:.0f} s)",
                  flush=True)
            if jsonl:
                with open(jsonl, "a") as stream:
                    stream.write(json.dumps(row) + "\n")
    return rows


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the seeds every strategy of their dataset and hypermodel finished.

    A run stopped early leaves some strategies a seed ahead; comparing means
    over different seeds would compare the seeds.
    """
    strategies: dict[tuple, set[str]] = {}
    done: dict[tuple, set[str]] = {}
    for row in rows:
        case = (row["dataset"], row["hypermodel"])
        strategies.setdefault(case, set()).add(row["strategy"])
        done.setdefault((*case, row["seed"]), set()).add(row["strategy"])
    return [row for row in rows
            if done[(row["dataset"], row["hypermodel"], row["seed"])]
            == strategies[(row["dataset"], row["hypermodel"])]]


def print_table(rows: list[dict[str, Any]]) -> None:
    """Mean ± standard deviation over seeds, per dataset, hypermodel and strategy.

    Only the seeds every strategy finished count (`comparable`).
    """
    print(f"{'dataset':<13} {'hypermodel':<10} {'strategy':<17} {'seeds':>5} {'val acc':>16} "
          f"{'test acc':>16} {'val-test gap':>16} {'trials':>6} {'epochs':>6} {'seconds':>8}")
    groups: dict[tuple, list[dict]] = {}
    for row in comparable(rows):
        groups.setdefault((row["dataset"], row["hypermodel"], row["strategy"]), []).append(row)
    for (name, hypermodel, strategy), group in sorted(groups.items()):

        def spread(key: str, group: list[dict] = group) -> str:
            values = [r[key] for r in group]
            return f"{statistics.mean(values):.4f} ± {statistics.pstdev(values):.4f}"

        print(f"{name:<13} {hypermodel:<10} {strategy:<17} {len(group):>5} "
              f"{spread('val_accuracy'):>16} {spread('test_accuracy'):>16} {spread('gap'):>16} "
              f"{statistics.mean(r['trials'] for r in group):>6.1f} "
              f"{statistics.mean(r['epochs'] for r in group):>6.1f} "
              f"{statistics.mean(r['seconds'] for r in group):>8.1f}", flush=True)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES, choices=STRATEGIES)
    parser.add_argument("--datasets", nargs="+", default=["digits"], choices=DATASETS)
    parser.add_argument("--hypermodels", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"],
                        help="those that fit each dataset are run (the CNN on digits only)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--jsonl", help="append each finished search to this file")
    parser.add_argument("--table-only", action="store_true",
                        help="tabulate the searches in --jsonl without running any")
    args = parser.parse_args(argv)

    if args.table_only:
        with open(args.jsonl) as stream:
            rows = [json.loads(line) for line in stream]
    else:
        cases = [(name, hypermodel) for name in args.datasets for hypermodel in args.hypermodels
                 if hypermodel in HYPERMODELS[name]]
        # Seed-major, so a run stopped early has every strategy at the same seeds.
        jobs = [(strategy, name, hypermodel, seed, args.trials, args.epochs)
                for seed in range(args.seeds) for name, hypermodel in cases
                for strategy in args.strategies]
        rows = run_all(jobs, args.processes, args.jsonl)
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
