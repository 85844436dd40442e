"""The `evokt` command line: `evokt search`, `summary` and `worker`, and plugged-in commands.

Bad input ends with one line naming the problem on standard error and exit
status 2, never a traceback. TensorFlow is imported only once the arguments
are known to be good, so `--help` and argument errors answer at once.

Packages above this one add subcommands through the entry-point group
`evokt.commands` (the service adds `evokt serve`), so the library never
imports the service: an entry point names a function that takes argparse's
subcommands and adds its parser, with `run` set to the function that runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from evokt.hypermodels.errors import EvoktError
from evokt.hypermodels.tasks import TASKS
from evokt.oracles.defaults import EARLY_STOPPING_RULES
from evokt.search.errors import SearchFailedError
from evokt.search.formats import FORMATS
from evokt.search.layout import BEST_FILE
from evokt.search.layout import MODEL_FILE
from evokt.search.names import as_name
from evokt.search.settings import Setting
from evokt.search.spec import SETTING
from evokt.search.spec import SETTINGS
from evokt.search.spec import SearchSpec
from evokt.search.spec import prepare_project
from evokt.search.strategies import EPOCH_BUDGETED

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
COMMANDS_GROUP = "evokt.commands"

SEED_CNN = "seed-cnn"


class UsageError(EvoktError):
    """Bad input from the user; the message says what."""


def _version() -> str:
    try:
        return metadata.version("evokt")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """`evokt`'s parser: its own commands, then the plugged-in ones."""
    parser = argparse.ArgumentParser(
        prog="evokt",
        description="Architecture search for Keras models with KerasTuner.",
    )
    parser.add_argument("--version", action="version", version=f"evokt {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_search_parser(commands)
    add_worker_parser(commands)
    add_summary_parser(commands)
    add_export_parser(commands)
    for entry_point in metadata.entry_points(group=COMMANDS_GROUP):
        entry_point.load()(commands)
    return parser


def add_search_parser(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser(
        "search",
        help="run a search and save the best model",
        description=(
            "Search for the best network for a dataset, show progress, print the "
            "best trials and write the best model to --output."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    search.set_defaults(run=run_search_command)
    _add_data_arguments(search.add_argument_group("data (one of; default: --dataset digits)"))
    _add_strategy_arguments(search.add_argument_group("search"))
    cluster = search.add_argument_group("parallel and distributed search")
    _add_setting(cluster, SETTING["workers"],
                 "; with --chief, local workers beside the remote ones (default there: none)")
    cluster.add_argument(
        "--chief", action="store_true",
        help="serve the oracle to workers on other machines ('evokt worker'); they need the "
        "search's token, in the project directory's chief.token",
    )
    cluster.add_argument(
        "--listen", metavar="HOST:PORT", default="127.0.0.1:0",
        help="where the chief's oracle listens (with --chief, or --ray: by default there the "
        "address Ray knows this machine by); port 0 picks a free one",
    )
    cluster.add_argument(
        "--ray", metavar="ADDRESS",
        help="run the --workers on the Ray cluster at ADDRESS, as ray.init takes it: auto, "
        "HOST:PORT, ray://HOST:10001, or local for a private Ray instance (needs evokt[ray])",
    )
    _add_setting(cluster, SETTING["worker_resources"])
    cluster.add_argument(
        "--allow-unauthenticated", action="store_true",
        help="let workers call the chief without the search's token (plain keras_tuner.Tuner "
        "workers): anyone who reaches the port can then hand in trials",
    )
    cluster.add_argument("--tls-cert", metavar="PEM",
                         help="serve the chief's port over TLS with this certificate")
    cluster.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    cluster.add_argument(
        "--trial-timeout", type=float, metavar="SECONDS",
        help="hand a trial to another worker when its worker has not ended it in this "
        "time (genetic, greedy, genetic-hyperband); a local worker that dies is "
        "replaced at once",
    )
    tracking = search.add_argument_group("tracking")
    _add_setting(tracking, SETTING["tensorboard"])
    _add_setting(tracking, SETTING["mlflow"])
    files = search.add_argument_group("files")
    files.add_argument(
        "--project-dir", default="evokt-search", metavar="DIR",
        help="the search's state and checkpoints; must be new unless --resume",
    )
    files.add_argument(
        "--output", default="evokt-model", metavar="DIR",
        help="where model.keras and best.json are written",
    )
    files.add_argument(
        "--export-format", action="append", default=[], choices=FORMATS, metavar="FORMAT",
        help="also write the chosen model in this format into --output (repeatable): "
        "saved_model (TensorFlow Serving's NAME/1/ folder, in saved_model/), onnx "
        "(model.onnx), litert (model.tflite); each is checked in its own runtime first "
        "(needs evokt[export])",
    )
    files.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted search in --project-dir with the options "
        "it was started with (data and search flags are then ignored)",
    )


def _add_data_arguments(source: argparse._ArgumentGroup) -> None:
    source.add_argument(
        "--dataset",
        help="bundled dataset: digits (8x8 images), iris, wine, breast_cancer, "
        "diabetes (regression)",
    )
    source.add_argument("--csv", metavar="PATH", help="CSV file with a header row")
    source.add_argument("--target", metavar="COL", help="the CSV column to predict")
    source.add_argument("--npz", metavar="PATH", help=".npz file with arrays x and y")
    source.add_argument(
        "--task", choices=TASKS, help="what to predict; inferred from the target when left out",
    )


def _add_setting(group: argparse._ArgumentGroup, setting: Setting, more_help: str = "") -> None:
    """The flag of a declared search setting (`--max-trials` for `max_trials`).

    Left out, it is absent from the parsed arguments, and the spec's default
    applies; the spec checks the value, as it checks the service's.

    Args:
        group: Where the flag goes.
        setting: Its declaration.
        more_help: Words added to the setting's help.
    """
    kwargs: dict[str, Any] = {
        "default": argparse.SUPPRESS,
        "help": f"{setting.help}{more_help} (default: {setting.default_words()})",
    }
    if setting.kind == "choice":
        kwargs["metavar"] = "{" + ",".join(setting.choices) + "}"
    else:
        kwargs["metavar"] = setting.metavar
        kwargs["type"] = {"int": int, "float": float}.get(setting.kind, str)
    group.add_argument("--" + setting.name.replace("_", "-"), **kwargs)


def _add_strategy_arguments(model: argparse._ArgumentGroup) -> None:
    for setting in SETTINGS:
        if setting.name not in ("workers", "worker_resources", "tensorboard", "mlflow"):
            _add_setting(model, setting)
    model.add_argument(
        "--objective",
        action="append",
        metavar="NAME[:min|max]",
        help="metric to optimise: val_accuracy (classification default), val_loss "
        "(regression default), val_mae, ..., or what evokt measures of every model: params, "
        "latency_ms, model_bytes; repeat it for a multi-objective (Pareto) search, e.g. "
        "--objective val_accuracy --objective params:min",
    )
    model.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="strategy option, VALUE as JSON (repeatable), e.g. population_size=8, "
        "crossover_prob=0.5, num_initial_points=5",
    )
    model.add_argument(
        "--early-stopping", choices=EARLY_STOPPING_RULES, metavar="RULE",
        help="stop trials that do worse than the others at the same epoch: median (a trial "
        "whose best value so far is worse than the median of the completed trials at that "
        "epoch, after 3 epochs and 5 completed trials); genetic, greedy, random, bayesian",
    )
    model.add_argument(
        "--initial-hps",
        metavar="FILE",
        help=f"JSON list of configurations to evaluate first (genetic, greedy, "
        "genetic-hyperband), or "
        f"{SEED_CNN} for two hand-designed CNNs (32/64 filters and dense 128, and its "
        "wider variant 64/128 and dense 256)",
    )


def add_worker_parser(commands: argparse._SubParsersAction) -> None:
    worker = commands.add_parser(
        "worker",
        help="train trials for a chief started with 'evokt search --chief'",
        description=(
            "Join a distributed search: wait for the chief, fetch its search (and its data "
            "file, if this machine lacks it), then train the trials the chief hands out "
            "until the search ends. No file system need be shared: checkpoints travel "
            "through the chief. The chief asks for the search's token: --token-file, or "
            "EVOKT_CHIEF_TOKEN."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    worker.set_defaults(run=run_worker_command)
    worker.add_argument("--chief", required=True, metavar="HOST:PORT",
                        help="the chief's --listen address")
    worker.add_argument("--project-dir", default="evokt-search", metavar="DIR",
                        help="this worker's directory: the chief's --project-dir on a shared "
                        "file system, or any other")
    worker.add_argument("--token-file", metavar="PATH",
                        help="the file holding the search's token (the chief's chief.token); "
                        "default: EVOKT_CHIEF_TOKEN, else chief.token in --project-dir")
    worker.add_argument("--tls-ca", metavar="PEM",
                        help="trust this certificate for a chief serving TLS")
    default_id = as_name(f"worker-{socket.gethostname()}-{os.getpid()}")
    worker.add_argument("--tuner-id", default=default_id, help="this worker's unique id")
    worker.add_argument("--threads", type=int, metavar="N",
                        help="TensorFlow threads (default: all cores)")


def add_summary_parser(commands: argparse._SubParsersAction) -> None:
    summary = commands.add_parser(
        "summary",
        help="print the results table of a search",
        description="Print the best trials of a finished or interrupted search.",
    )
    summary.set_defaults(run=run_summary_command)
    summary.add_argument("project_dir", metavar="DIR", help="the search's --project-dir")
    summary.add_argument("--top", type=int, default=10, metavar="N", help="trials to list")


def add_export_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="write a searched model as a SavedModel, ONNX, LiteRT or .keras",
        description=(
            "Convert the model a search wrote (its --output folder) to another format, "
            "load the result in that format's runtime and compare its outputs with the "
            "Keras model's on 100 sample rows; nothing is written unless they match. The "
            "model takes the same raw features as the service's :predict (input 'inputs', "
            "output 'output_0'). ONNX and LiteRT need evokt[export]."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    export.set_defaults(run=run_export_command)
    export.add_argument("model_dir", metavar="MODEL_DIR",
                        help="the folder 'evokt search --output' wrote (model.keras, best.json)")
    export.add_argument("--format", required=True, choices=FORMATS, dest="export_format",
                        help="the format to write")
    export.add_argument("--output", required=True, metavar="PATH",
                        help="the file to write; for saved_model, TensorFlow Serving's model "
                        "base path: the model goes into PATH/NAME/VERSION/")
    export.add_argument("--name", metavar="NAME",
                        help="the model's name in a SavedModel's layout (default: MODEL_DIR's "
                        "folder name)")
    export.add_argument("--version", type=int, default=1, metavar="N",
                        help="the version folder of a SavedModel")


def _parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise UsageError(f"--option {pair!r}: expected KEY=VALUE")
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    return options


def _load_initial_hps(source: str) -> list[dict]:
    if source == SEED_CNN:
        from evokt.hypermodels.presets import SEED_CNN_PRESETS

        return SEED_CNN_PRESETS
    try:
        with open(source, encoding="utf-8") as file:
            configurations = json.load(file)
    except OSError as error:
        raise UsageError(f"--initial-hps {source}: {error.strerror}") from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise UsageError(f"--initial-hps {source}: not JSON ({error})") from None
    if not isinstance(configurations, list) or not all(
        isinstance(values, dict) for values in configurations
    ):
        raise UsageError(f"--initial-hps {source}: expected a JSON list of objects")
    return configurations


def spec_from_args(args: argparse.Namespace) -> SearchSpec:
    """The `SearchSpec` that `evokt search`'s flags describe."""
    options = _parse_options(args.option)
    if args.initial_hps:
        options["initial_hps"] = _load_initial_hps(args.initial_hps)
    if args.trial_timeout is not None:
        options["trial_timeout"] = args.trial_timeout
    if args.early_stopping is not None:
        options["early_stopping"] = args.early_stopping
    if args.target and not args.csv:
        raise UsageError("--target goes with --csv")
    dataset = args.dataset
    if not (dataset or args.csv or args.npz):
        dataset = "digits"
    given = {setting.name: getattr(args, setting.name) for setting in SETTINGS
             if hasattr(args, setting.name)}
    return SearchSpec(
        dataset=dataset,
        csv=args.csv,
        npz=args.npz,
        target=args.target,
        task=args.task,
        objective=args.objective[0] if args.objective and len(args.objective) == 1
        else args.objective,
        oracle_options=options,
        **given,
    )


def _import_tensorflow_quietly() -> None:
    """Imports TensorFlow with its native start-up chatter discarded.

    TensorFlow's C++ libraries write several lines to file descriptor 2
    while loading (oneDNN, CUDA probing) before any logging setting applies;
    they say nothing to a user of this tool. Python errors still surface:
    the exception is raised after standard error is restored.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow

            tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run_search_command(args: argparse.Namespace) -> int:
    spec = prepare_project(
        None if args.resume else spec_from_args(args), args.project_dir, args.resume
    )
    _check_extras(spec, args.export_format)
    dataset = spec.load_data()
    if spec.oracle_options.get("initial_hps"):
        # Their check builds the hypermodel's space, with Keras.
        _import_tensorflow_quietly()
    spec.check_data(dataset.input_shape, dataset.task)
    distribution = _distribution(args, spec)
    _import_tensorflow_quietly()
    from rich.console import Console

    from evokt.oracles.pareto import objectives_of
    from evokt.oracles.trials import reevaluations_in
    from evokt.search.pipeline import run_prepared_search
    from evokt.search.progress import ProgressDisplay
    from evokt.search.results import results_table

    console = Console()
    if args.resume:
        console.print(f"Resuming the search in {args.project_dir} with its saved options.")
    try:
        with ProgressDisplay(constraints=spec.constraints) as display:
            outcome = run_prepared_search(
                spec, dataset, args.project_dir, args.output, observer=display,
                distribution=distribution, export_formats=args.export_format,
            )
    except KeyboardInterrupt:
        print(
            f"evokt: interrupted; continue with: evokt search --project-dir "
            f"{args.project_dir} --resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    objectives = objectives_of(outcome.tuner.oracle.objective)
    oracle = outcome.tuner.oracle
    console.print(results_table(oracle.trials.values(), objectives, constraints=spec.constraints,
                                reevaluations=reevaluations_in(oracle.get_state())))
    best = outcome.best
    achieved = ", ".join(f"{objective['name']} {objective['value']:.4g}"
                         for objective in best["objectives"])
    console.print(
        f"Best model: {os.path.join(args.output, best['model_file'])} "
        f"(trial {best['trial_id']}, {achieved}); "
        f"description in {os.path.join(args.output, BEST_FILE)}",
        highlight=False,
    )
    for exported in outcome.exports:
        _print_export(exported)
    return 0


def _check_extras(spec: SearchSpec, export_formats: Sequence[str]) -> None:
    """Refuses, before the search, what needs a package of an extra that is missing."""
    from evokt.search.formats import missing_package
    from evokt.search.tracking import mlflow_installed

    if spec.mlflow is not None and not mlflow_installed():
        raise UsageError("--mlflow needs mlflow: pip install 'evokt[mlflow]'")
    for export_format in export_formats:
        missing = missing_package(export_format)
        if missing is not None:
            raise UsageError(f"--export-format {export_format} needs {missing}: pip install "
                             "'evokt[export]'")


def _distribution(args: argparse.Namespace, spec: SearchSpec):
    """The chief's settings with --chief or --ray, else None (the spec decides)."""
    from evokt.chief.auth import ChiefSecurity
    from evokt.search.distributed import Distribution
    from evokt.search.distributed import parse_address

    security = ChiefSecurity.from_files(args.allow_unauthenticated, args.tls_cert, args.tls_key)
    if not (args.chief or args.ray):
        if security != ChiefSecurity():
            raise UsageError("--allow-unauthenticated and --tls-cert go with --chief or --ray")
        return None
    host, port = parse_address(args.listen)
    workers = spec.workers if args.ray or hasattr(args, "workers") else 0
    if args.chief:
        from evokt.chief.auth import TOKEN_FILE
        from evokt.search.distributed import free_port

        port = port or free_port(host)
        token_file = os.path.join(os.path.abspath(args.project_dir), TOKEN_FILE)
        print(f"Chief listening on {host}:{port}; join with: evokt worker --chief "
              f"{host}:{port} --token-file {token_file}", file=sys.stderr)
    return Distribution(host, port, local_workers=workers, ray_address=args.ray,
                        security=security)


def run_summary_command(args: argparse.Namespace) -> int:
    spec = SearchSpec.load(args.project_dir)
    _import_tensorflow_quietly()
    from rich.console import Console

    from evokt.oracles.early_stopping import stopped_epoch
    from evokt.oracles.trials import has_score
    from evokt.oracles.trials import is_feasible
    from evokt.oracles.trials import violations
    from evokt.search.pipeline import resolve_objective
    from evokt.search.results import load_reevaluations
    from evokt.search.results import load_trials
    from evokt.search.results import results_table
    from evokt.search.results import status_counts

    trials = load_trials(args.project_dir)
    if not trials:
        raise UsageError(f"{args.project_dir}: the search has no trials yet")
    objectives = [resolve_objective(text) for text in spec.objective_names]
    counts = status_counts(trials)
    ended = sum(count for status, count in counts.items() if status != "RUNNING")
    listed = ", ".join(f"{count} {status.lower()}" for status, count in sorted(counts.items()))
    if spec.oracle in EPOCH_BUDGETED:
        from evokt.oracles.genetic_hyperband import epochs_added
        from evokt.search.strategies import epoch_budget

        trained = sum(epochs_added(trial.hyperparameters.values) for trial in trials)
        budget = epoch_budget(spec.max_trials, spec.epochs, spec.max_epochs_budget)
        progress = f"{ended} trials ended ({listed}), {trained} of {budget} epochs handed out"
    else:
        progress = f"{ended} of {spec.max_trials} trials ended ({listed})"
    console = Console()
    console.print(
        f"{spec.oracle} search on {spec.dataset or spec.csv or spec.npz}: {progress}",
        highlight=False,
    )
    console.print(results_table(trials, objectives, top=args.top, constraints=spec.constraints,
                                reevaluations=load_reevaluations(args.project_dir)))
    infeasible = [trial for trial in trials if has_score(trial)
                  and not is_feasible(trial, spec.constraints)]
    if infeasible:
        console.print(f"{len(infeasible)} completed trials broke the constraints and were "
                      "left out: " + "; ".join(
                          f"{trial.trial_id} ({', '.join(violations(trial, spec.constraints))})"
                          for trial in infeasible[:10]), highlight=False)
    stopped = [trial for trial in trials if stopped_epoch(trial) is not None]
    if stopped:
        console.print(f"{len(stopped)} trials stopped early (never recommended): " + "; ".join(
            f"{trial.trial_id} stopped at epoch {stopped_epoch(trial) + 1} of {spec.epochs}"
            for trial in stopped[:10]) + ("; ..." if len(stopped) > 10 else ""),
            highlight=False)
    return 0


def run_worker_command(args: argparse.Namespace) -> int:
    _import_tensorflow_quietly()
    from evokt.chief.auth import CA_ENV
    from evokt.chief.auth import read_token_file
    from evokt.search.worker import run_worker

    token = read_token_file(args.token_file) if args.token_file else None
    if args.tls_ca:
        os.environ[CA_ENV] = os.path.abspath(args.tls_ca)
    run_worker(args.chief, args.project_dir, args.tuner_id, args.threads, token=token)
    return 0


def run_export_command(args: argparse.Namespace) -> int:
    model_file = os.path.join(args.model_dir, MODEL_FILE)
    if not os.path.isfile(model_file):
        raise UsageError(f"{args.model_dir}: holds no {MODEL_FILE} (give the folder "
                         "'evokt search --output' wrote)")
    if args.version < 1:
        raise UsageError(f"--version must be a positive integer, got {args.version}")
    name = args.name or as_name(os.path.basename(os.path.abspath(args.model_dir)))
    _import_tensorflow_quietly()
    exported = _export(model_file, args.export_format, args.output, name, args.version)
    _print_export(exported)
    return 0


def _export(model_file: str, export_format: str, output: str, name: str, version: int):
    """`export_model`, with a missing runtime of the export extra said as such."""
    from evokt.search.formats import export_model

    try:
        return export_model(model_file, export_format, output, name=name, version=version)
    except ModuleNotFoundError as error:
        raise UsageError(f"--format {export_format} needs {error.name}: pip install "
                         "'evokt[export]'") from None


def _print_export(exported) -> None:
    print(f"Wrote {exported.path} ({exported.format}, {exported.size_bytes:,} bytes, "
          f"{exported.seconds:.1f} s); its outputs match the Keras model's within "
          f"{exported.max_difference:.1g} on 100 sample rows")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `evokt` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SearchFailedError as error:
        print(f"evokt: search failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    except EvoktError as error:
        print(f"evokt: error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
