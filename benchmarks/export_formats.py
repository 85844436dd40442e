"""Export formats side by side: export time, size, fidelity and single-row latency, against Keras.

For each hypermodel (the MLP on breast_cancer, the CNN on digits images, the
sequence model on digits read as 8 time steps of 8 pixels), a model of a
fixed, realistic structure is trained for `--epochs` epochs and saved as
`.keras`; then each format (SavedModel, ONNX, LiteRT, `.keras`) is written by
`export_model`, which checks it in its own runtime, and the table reports:

- the export's time (conversion and check), its size on disk, and its largest
  difference from the Keras model on 100 validation rows;
- the p50/p95 latency of one-row calls in the format's own runtime
  (`load_runner`: `tf.saved_model.load`, onnxruntime, the LiteRT interpreter,
  Keras), next to the `.keras` model run by Keras two ways: the compiled
  `tf.function` the service predicts through (`compile_inference`) and a plain
  `model(x, training=False)`.

Every runner is warmed up, then called in turn, the order rotating call by
call, so a change of the machine's load favours none. onnxruntime runs on one
intra-op thread and LiteRT on one thread (as `load_runner` sets them);
TensorFlow runs on `--tf-threads` intra-op threads and one inter-op thread (1
by default, for a like-for-like single-row comparison; 0 keeps TensorFlow's
defaults, every core).

    python benchmarks/export_formats.py [--epochs 2] [--calls 300] [--tf-threads 1]
    python benchmarks/export_formats.py --quick [--hypermodels cnn]    # the smoke run
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402

from evokt.hypermodels import SEED_CNN_PRESETS  # noqa: E402
from evokt.hypermodels import hypermodel_for  # noqa: E402
from evokt.hypermodels.data import BUILTIN_DATASETS  # noqa: E402
from evokt.hypermodels.data import Dataset  # noqa: E402
from evokt.hypermodels.data import load_builtin  # noqa: E402
from evokt.hypermodels.data import prepare  # noqa: E402
from evokt.hypermodels.inference import compile_inference  # noqa: E402
from evokt.search.formats import FILE_NAMES  # noqa: E402
from evokt.search.formats import FORMATS  # noqa: E402
from evokt.search.formats import SAMPLE_ROWS  # noqa: E402
from evokt.search.formats import export_model  # noqa: E402
from evokt.search.formats import load_runner  # noqa: E402
from evokt.threads import set_tensorflow_threads  # noqa: E402

# hypermodel -> its structure: what a search settles on for these datasets.
STRUCTURES = {
    "mlp": {"num_layers": 2, "units_0": 64, "activation_0": "gelu", "units_1": 32,
            "activation_1": "relu", "batch_norm": True, "dropout": 0.1,
            "learning_rate": 1e-3},
    # The hand-made CNN a search starts from (conv 32 and 64, dense 128).
    "cnn": SEED_CNN_PRESETS[0],
    "sequence": {"num_layers": 2, "layer_type_0": "conv1d", "units_0": 32, "kernel_size_0": 3,
                 "activation_0": "relu", "layer_type_1": "lstm", "units_1": 32,
                 "pooling": "max", "dense_units": 32, "dense_activation": "relu",
                 "dropout": 0.1, "learning_rate": 1e-3},
}
KERAS_COMPILED = "keras tf.function"
KERAS_EAGER = "keras model(x)"
# Formats the goal is about, and their runtimes' names.
GOAL_FORMATS = {"onnx": "onnxruntime", "litert": "LiteRT"}


def load_data(kind: str) -> Dataset:
    """The bundled dataset the hypermodel is benchmarked on.

    Args:
        kind: "mlp", "cnn" or "sequence".
    """
    if kind == "sequence":
        # Each digit image's 8 rows are 8 time steps of 8 features.
        loader, task = BUILTIN_DATASETS["digits"]
        x, y, _ = loader()
        return prepare("digits-rows", x.reshape(-1, 8, 8), y, task=task)
    return load_builtin("digits" if kind == "cnn" else "breast_cancer")


def train_model(kind: str, dataset: Dataset, epochs: int, path: str) -> None:
    """Builds the hypermodel's model of `STRUCTURES[kind]`, trains it and saves it to `path`.

    Args:
        kind: "mlp", "cnn" or "sequence".
        dataset: Its data.
        epochs: Training epochs.
        path: The `.keras` file to write.
    """
    hypermodel = hypermodel_for(dataset, kind)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)  # declares the space, conditional parameters included
    for parameter in hp.space:
        hp.values.setdefault(parameter.name, parameter.default)
    hp.values.update(STRUCTURES[kind])
    model = hypermodel.build(hp)
    model.fit(dataset.x_train, dataset.y_train, epochs=epochs, batch_size=32, verbose=0)
    model.save(path)


def single_row_latency(runners: dict[str, Callable[[np.ndarray], np.ndarray]],
                       row: np.ndarray, calls: int, warm_up: int) -> dict[str, dict[str, float]]:
    """p50 and p95 microseconds of one-row calls of each runner.

    Args:
        runners: Name -> rows -> outputs.
        row: One row, shape (1, *input_shape), float32.
        calls: Timed calls of each runner, taken in turn, the order rotating.
        warm_up: Untimed calls of each runner first.
    """
    for runner in runners.values():
        for _ in range(warm_up):
            runner(row)
    names = list(runners)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for call in range(calls):
        shift = call % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            runners[name](row)
            seconds[name].append(time.perf_counter() - started)
    return {name: {"p50_us": 1e6 * statistics.median(times),
                   "p95_us": 1e6 * sorted(times)[int(0.95 * (len(times) - 1))]}
            for name, times in seconds.items()}


def benchmark(kind: str, work: str, epochs: int, calls: int, warm_up: int) -> None:
    """Trains, exports and times one hypermodel's model, and prints its table.

    Args:
        kind: "mlp", "cnn" or "sequence".
        work: A scratch folder.
        epochs: Training epochs.
        calls: Timed single-row calls per runner.
        warm_up: Untimed calls per runner first.
    """
    dataset = load_data(kind)
    folder = os.path.join(work, kind)
    os.makedirs(folder)
    model_file = os.path.join(folder, "trained.keras")
    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    train_model(kind, dataset, epochs, model_file)
    trained_in = time.perf_counter() - started
    rows = dataset.x_val[:SAMPLE_ROWS]
    exports = {export_format: export_model(
        model_file, export_format, os.path.join(folder, FILE_NAMES[export_format]), name=kind,
        rows=rows) for export_format in FORMATS}
    # The service's way: the model loaded as it loads it, called through the compiled graph.
    served = keras.saving.load_model(model_file, compile=False, safe_mode=True)
    runners = {export_format: load_runner(export_format, exported.path)
               for export_format, exported in exports.items()}
    runners[KERAS_COMPILED] = compile_inference(served, dataset.input_shape)
    runners[KERAS_EAGER] = load_runner("keras", model_file)
    latency = single_row_latency(runners, np.ascontiguousarray(rows[:1]), calls, warm_up)

    compiled, eager = latency[KERAS_COMPILED]["p50_us"], latency[KERAS_EAGER]["p50_us"]
    print(f"\n== {kind} on {dataset.name} (input {list(dataset.input_shape)}, "
          f"{served.count_params():,} parameters, trained {epochs} epoch(s) in "
          f"{trained_in:.1f} s); one-row latency over {calls} calls")
    print(f"{'format':<18} {'export s':>8} {'bytes':>10} {'max diff':>9} {'p50 us':>9} "
          f"{'p95 us':>9} {'/tf.function':>12} {'/model(x)':>9}")
    for name, times in latency.items():
        exported = exports.get(name)
        export_columns = (f"{exported.seconds:>8.2f} {exported.size_bytes:>10} "
                          f"{exported.max_difference:>9.1e}" if exported
                          else f"{'-':>8} {'-':>10} {'-':>9}")
        print(f"{name:<18} {export_columns} {times['p50_us']:>9.1f} {times['p95_us']:>9.1f} "
              f"{times['p50_us'] / compiled:>11.3f}x {times['p50_us'] / eager:>8.3f}x")
    fastest_keras = min(compiled, eager)
    verdicts = ", ".join(f"{runtime} {latency[export_format]['p50_us'] / fastest_keras:.2f}x"
                         for export_format, runtime in GOAL_FORMATS.items())
    met = all(latency[export_format]["p50_us"] <= fastest_keras for export_format in GOAL_FORMATS)
    print(f"goal ({' and '.join(GOAL_FORMATS.values())} p50 at or below Keras's faster way): "
          f"{'met' if met else 'NOT met'} ({verdicts})", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hypermodels", nargs="+", choices=sorted(STRUCTURES),
                        help="default: all, or with --quick the MLP")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--calls", type=int, default=300, help="timed one-row calls per runner")
    parser.add_argument("--warm-up", type=int, default=30, help="untimed calls per runner first")
    parser.add_argument("--tf-threads", type=int, default=1,
                        help="TensorFlow's intra-op threads; 0 keeps its defaults (every core)")
    parser.add_argument("--quick", action="store_true",
                        help="one epoch and a few calls (of the MLP only unless "
                             "--hypermodels): the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.calls, args.warm_up = 1, 20, 3
    hypermodels = args.hypermodels or (["mlp"] if args.quick else list(STRUCTURES))
    if args.tf_threads:
        set_tensorflow_threads(args.tf_threads)
    tf_threads = (f"{args.tf_threads} intra-op and 1 inter-op" if args.tf_threads
                  else "its default intra-op and inter-op")
    print(f"threads: TensorFlow (SavedModel, Keras) {tf_threads}; onnxruntime 1 intra-op; "
          f"LiteRT 1; {os.cpu_count()} cores")
    work = tempfile.mkdtemp(prefix="evokt-export-bench-")
    try:
        for kind in hypermodels:
            benchmark(kind, work, args.epochs, args.calls, args.warm_up)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
