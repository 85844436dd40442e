"""A real Pareto search: CNNs on `digits`, accuracy against parameters.

A fifth of `digits` is held out as a test split; the genetic oracle searches
the CNN hypermodel (its widths allowed down to 4 filters and 8 dense units) for
validation accuracy and parameter count at once (Pareto ranking, no sum), as
`evokt search --objective val_accuracy --objective params:min` does. Every
model of the final front is scored on the test split. It prints the front and
whether it offers a model within one accuracy point of the most accurate model
found with at most a fifth of its parameters, and plots the front.

    python benchmarks/pareto_digits.py --trials 40 --epochs 10 --plot docs/img/pareto-digits.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
from training import split  # noqa: E402

from evokt.hypermodels import hypermodel_for  # noqa: E402
from evokt.search.spec import SearchSpec  # noqa: E402
from evokt.search.strategies import create_tuner  # noqa: E402

OBJECTIVES = [keras_tuner.Objective("val_accuracy", "max"), keras_tuner.Objective("params", "min")]
# A search for small models lets the widths go small: the CNN's default
# bounds (16 filters, 32 dense units at least) put its smallest network at
# about 8,700 parameters on 8x8 digits.
SPACE = {"filters": (4, 128), "dense_units": (8, 256)}


def run(trials: int, epochs: int, seed: int) -> list[dict]:
    """The search's front: each member's validation and test accuracy and size."""
    dataset, x_test, y_test = split("digits", seed)
    keras.utils.set_random_seed(seed)
    directory = tempfile.mkdtemp(prefix="evokt-pareto-")
    try:
        tuner = create_tuner(
            SearchSpec(dataset="digits", max_trials=trials, epochs=epochs, seed=seed),
            hypermodel_for(dataset, "cnn", **SPACE), objective=OBJECTIVES,
            directory=directory, project_name="front", overwrite=True,
        )
        tuner.search(dataset.x_train, dataset.y_train,
                     validation_data=(dataset.x_val, dataset.y_val), epochs=epochs,
                     batch_size=32, verbose=0)
        front = []
        for trial in tuner.pareto_front():
            model = tuner.load_model(trial)
            predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
            front.append({
                "trial": trial.trial_id,
                "val_accuracy": trial.metrics.get_best_value("val_accuracy"),
                "test_accuracy": float(np.mean(predicted == y_test)),
                "params": int(trial.metrics.get_last_value("params")),
                "latency_ms": trial.metrics.get_last_value("latency_ms"),
                "values": trial.hyperparameters.values,
            })
        return front
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def small_and_close(front: list[dict]) -> dict | None:
    """The smallest model within one accuracy point of the most accurate one,
    if it has at most a fifth of its parameters."""
    best = front[0]
    close = [member for member in front if member["val_accuracy"] >= best["val_accuracy"] - 0.01]
    smallest = min(close, key=lambda member: member["params"])
    return smallest if smallest["params"] * 5 <= best["params"] else None


def plot(front: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    params = [member["params"] for member in front]
    axes.step(params, [member["val_accuracy"] for member in front], where="post", marker="o",
              label="validation accuracy (the front)")
    axes.plot(params, [member["test_accuracy"] for member in front], "x", label="test accuracy")
    axes.set_xscale("log")
    axes.set_xlabel("parameters")
    axes.set_ylabel("accuracy")
    axes.set_title("digits, CNN: the Pareto front of accuracy against size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", help="where to save the front's plot (PNG)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    front = run(args.trials, args.epochs, args.seed)
    print(f"{'trial':>5} {'val acc':>8} {'test acc':>8} {'params':>9} {'latency ms':>10}")
    for member in front:
        print(f"{member['trial']:>5} {member['val_accuracy']:>8.4f} "
              f"{member['test_accuracy']:>8.4f} {member['params']:>9,} "
              f"{member['latency_ms']:>10.3f}")
    chosen = small_and_close(front)
    if chosen is None:
        print("no model of the front is within 1 accuracy point of the best with a fifth of "
              "its parameters")
    else:
        print(f"trial {chosen['trial']}: {chosen['val_accuracy']:.4f} validation accuracy "
              f"(best {front[0]['val_accuracy']:.4f}) with {chosen['params']:,} parameters, "
              f"{chosen['params'] / front[0]['params']:.1%} of the best's {front[0]['params']:,}")
    print(f"({time.monotonic() - started:.0f} s, {args.trials} trials of {args.epochs} epochs)")
    if args.plot:
        plot(front, args.plot)
    return front


if __name__ == "__main__":
    main()
