"""The one list of search strategies: name -> KerasTuner tuner, and its options.

The CLI, the service and the worker look strategies up here, so all seven take
the same hypermodels, and each strategy's options are declared once, with
their type, range, default and meaning: `check_options` validates a search's
`oracle_options` against them (`evokt search --option`, the service's
`oracle_options`), and the README's tables of options are these declarations.
Tuner classes are imported when first used, so listing the names is cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from evokt.oracles.defaults import DEFAULT_CANDIDATES
from evokt.oracles.defaults import DEFAULT_CROSSOVER_PROB
from evokt.oracles.defaults import DEFAULT_FACTOR
from evokt.oracles.defaults import DEFAULT_MAX_EVALUATIONS
from evokt.oracles.defaults import DEFAULT_MAX_MUTATIONS
from evokt.oracles.defaults import DEFAULT_MUTATION_SCALE
from evokt.oracles.defaults import DEFAULT_RANDOM_FRACTION
from evokt.oracles.defaults import DEFAULT_REEVALUATION_SHARE
from evokt.oracles.defaults import EARLY_STOPPING_RULES
from evokt.oracles.defaults import GENETIC_HYPERBAND_POPULATION
from evokt.oracles.defaults import default_population_size
from evokt.oracles.defaults import tournament_sizes
from evokt.search.errors import SpecError
from evokt.search.settings import Setting
from evokt.search.settings import by_name

if TYPE_CHECKING:
    import keras_tuner

    from evokt.search.observe import SearchObserver
    from evokt.search.spec import SearchSpec

# The largest population, tournament, budget or count an option may name.
MAX_COUNT = 10_000


_RETRIES = Setting("max_retries_per_trial", "int", "retries of a trial that crashed",
                   default=0, minimum=0, maximum=10)
_FAILURES = Setting("max_consecutive_failed_trials", "int",
                    "failed trials in a row after which the search stops",
                    default=3, minimum=1, maximum=MAX_COUNT)
_TUNE_NEW = Setting("tune_new_entries", "bool",
                    "whether hyperparameters the hypermodel adds are searched", default=True)
_ALLOW_NEW = Setting("allow_new_entries", "bool",
                     "whether the hypermodel may add hyperparameters", default=True)
_KERAS_TUNER_OPTIONS = (_TUNE_NEW, _ALLOW_NEW, _RETRIES, _FAILURES)
# Each epoch is reported to the oracle; this rule stops the hopeless trials (one objective).
_EARLY_STOPPING = Setting(
    "early_stopping", "choice", "stop a trial whose best value so far is worse than the "
    "median of the completed trials' values at the same epoch, after 3 epochs and 5 completed "
    "trials; it ends STOPPED and is never recommended", choices=EARLY_STOPPING_RULES,
    default_text="none (every trial trains all its epochs)", nullable=True)
_EVOLUTION_OPTIONS = (
    Setting("mutation_scale", "float",
            "numerical mutation step, in KerasTuner's `value_to_prob` space (respects `log` "
            "and `step`)", default=DEFAULT_MUTATION_SCALE, minimum=0, maximum=1,
            exclusive_minimum=True),
    Setting("initial_hps", "configurations",
            "configurations to evaluate first; missing hyperparameters take their defaults"),
    Setting("trial_timeout", "float",
            "seconds after which a trial whose worker has not ended it goes to another worker",
            default_text="none (never)", minimum=0, maximum=7 * 24 * 3600,
            exclusive_minimum=True),
    *_KERAS_TUNER_OPTIONS,
)


# Noise-aware, model-guided proposals of the genetic and greedy oracles (one
# objective; a Pareto search ignores them).
_GUIDANCE_OPTIONS = (
    Setting("candidates", "int",
            "candidates a density ratio model of the completed trials (TPE's) screens per "
            "proposal, evaluating the most promising; 1 turns the model off",
            default=DEFAULT_CANDIDATES, minimum=1, maximum=1000),
    Setting("max_evaluations", "int",
            "the most evaluations of one configuration: the leader and its strongest "
            "challenger are re-evaluated (trials that show `reevaluates`) and ranked by "
            "their mean; 1 turns re-evaluation off",
            default=DEFAULT_MAX_EVALUATIONS, minimum=1, maximum=100),
    Setting("reevaluation_share", "float",
            "the largest share of `max_trials` spent on re-evaluations; 0 turns them off",
            default=DEFAULT_REEVALUATION_SHARE, minimum=0, maximum=0.9),
)


def _tournament_check(default_population: Callable[[int], int]) -> Callable:
    """The oracles' own check of the population and its tournament (the
    population given or the default), before the search starts."""

    def check(options: dict[str, Any], max_trials: int) -> None:
        try:
            tournament_sizes(options.get("population_size", default_population(max_trials)),
                             options.get("sample_size"),
                             # Left out, the oracle's default fits any population.
                             default_sample=lambda population: population)
        except ValueError as error:
            raise SpecError(f"oracle_options: {error}") from None

    return check


@dataclass(frozen=True)
class Strategy:
    """A search strategy the CLI and the service can run.

    Args:
        name: The strategy's name on the command line and in requests.
        tuner_path: "module:Class" of the `keras_tuner.Tuner` that runs it.
        summary: One line for `--help`.
        options: The tuner's keyword arguments a search may set.
        check_together: Optional check of options that bound each other,
            given the options and `max_trials`; raises SpecError.
    """

    name: str
    tuner_path: str
    summary: str
    options: tuple[Setting, ...] = _KERAS_TUNER_OPTIONS
    check_together: Callable[[dict[str, Any], int], None] | None = None

    @property
    def tuner_class(self) -> type[keras_tuner.Tuner]:
        module, attribute = self.tuner_path.split(":")
        return getattr(importlib.import_module(module), attribute)

    @property
    def option_names(self) -> list[str]:
        return [option.name for option in self.options]


STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        Strategy(
            "genetic", "evokt.oracles.genetic:GeneticSearch", "aging evolution (evokt)",
            options=(
                Setting("population_size", "int",
                        "how many recent completed trials form the population; until that "
                        "many complete, proposals are random",
                        default_text="`max_trials // 3`, clipped to [4, 100]",
                        minimum=2, maximum=MAX_COUNT),
                Setting("sample_size", "int",
                        "tournament size, at most `population_size`; larger is greedier",
                        default_text="`population_size`; three quarters of it with several "
                        "objectives", minimum=1, maximum=MAX_COUNT),
                Setting("crossover_prob", "float",
                        "probability of crossing the winner with a second winner before "
                        "mutating (with the default tournament both are the best, so only "
                        "tied configurations mix)", default=DEFAULT_CROSSOVER_PROB,
                        minimum=0, maximum=1),
                *_GUIDANCE_OPTIONS,
                _EARLY_STOPPING,
                *_EVOLUTION_OPTIONS,
            ),
            check_together=_tournament_check(default_population_size),
        ),
        Strategy(
            "greedy", "evokt.oracles.greedy:GreedySearch",
            "hill-climbing from the best trial (evokt)",
            options=(
                Setting("random_starts", "int", "trials to complete before climbing",
                        default_text="`max_trials // 10`, clipped to [2, 10]",
                        minimum=1, maximum=MAX_COUNT),
                Setting("max_mutations", "int", "the most hyperparameters one step changes",
                        default=DEFAULT_MAX_MUTATIONS, minimum=1, maximum=100),
                *_GUIDANCE_OPTIONS,
                _EARLY_STOPPING,
                *_EVOLUTION_OPTIONS,
            ),
        ),
        Strategy("random", "keras_tuner:RandomSearch", "random search (KerasTuner)",
                 options=(_EARLY_STOPPING, *_KERAS_TUNER_OPTIONS)),
        Strategy(
            "bayesian",
            "keras_tuner:BayesianOptimization",
            "Gaussian-process Bayesian optimisation (KerasTuner)",
            options=(
                Setting("num_initial_points", "int", "random trials before the Gaussian "
                        "process", default_text="3 per hyperparameter", minimum=1,
                        maximum=MAX_COUNT),
                Setting("alpha", "float", "noise added to the Gaussian process",
                        default=0.0001, minimum=0, maximum=1, exclusive_minimum=True),
                Setting("beta", "float", "exploration weight of the acquisition",
                        default=2.6, minimum=0, maximum=100),
                _EARLY_STOPPING,
                *_KERAS_TUNER_OPTIONS,
            ),
        ),
        Strategy(
            "hyperband",
            "keras_tuner:Hyperband",
            "successive halving of training epochs (KerasTuner)",
            options=(
                Setting("factor", "int", "reduction factor between rungs",
                        default=DEFAULT_FACTOR, minimum=2, maximum=100),
                *_KERAS_TUNER_OPTIONS,
            ),
        ),
        Strategy("grid", "keras_tuner:GridSearch", "exhaustive grid (KerasTuner)"),
        Strategy(
            "genetic-hyperband",
            "evokt.oracles.genetic_hyperband:GeneticHyperband",
            "successive halving of training epochs, new networks bred by evolution (evokt)",
            options=(
                Setting("factor", "int", "ratio of two rungs' epochs, and the inverse of the "
                        "share of a rung promoted", default=DEFAULT_FACTOR, minimum=2,
                        maximum=100),
                Setting("min_epochs", "int", "the fewest epochs of the lowest rung",
                        default=1, minimum=1, maximum=1000),
                Setting("population_size", "int", "recent completed trials of a rung that "
                        "breed new networks (the highest rung with that many)",
                        default=GENETIC_HYPERBAND_POPULATION, minimum=2, maximum=MAX_COUNT),
                Setting("sample_size", "int", "tournament size, at most `population_size`",
                        default_text="three quarters of `population_size`, at least 2",
                        minimum=1, maximum=MAX_COUNT),
                Setting("crossover_prob", "float",
                        "probability of crossing the winner with a second winner before "
                        "mutating", default=DEFAULT_CROSSOVER_PROB, minimum=0, maximum=1),
                Setting("random_fraction", "float", "share of new networks drawn at "
                        "random once evolution has started", default=DEFAULT_RANDOM_FRACTION,
                        minimum=0, maximum=0.99),
                *_EVOLUTION_OPTIONS,
            ),
            check_together=_tournament_check(lambda _: GENETIC_HYPERBAND_POPULATION),
        ),
    )
}

# Strategies whose budget is training epochs, not trials.
EPOCH_BUDGETED = ("genetic-hyperband",)


def epoch_budget(max_trials: int, epochs: int, max_epochs_budget: int | None) -> int:
    """The epochs an epoch-budgeted strategy may train in all.

    `max_epochs_budget` when given, else `max_trials * epochs`: what a strategy
    that trains every trial in full spends on `max_trials` trials.
    """
    return max_trials * epochs if max_epochs_budget is None else max_epochs_budget


def check_strategy(name: Any) -> Strategy:
    """The strategy called `name`; SpecError naming the valid ones otherwise."""
    if name not in STRATEGIES:
        raise SpecError(f"oracle: unknown {name!r}; choose {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


def check_options(strategy: str, options: Any, max_trials: int) -> None:
    """Validates a search's `oracle_options` for `strategy`.

    Args:
        strategy: The strategy's name.
        options: The options, as given.
        max_trials: The search's budget (some defaults depend on it).

    Raises:
        SpecError: Not an object, an option the strategy does not take, or
            a value of the wrong type or out of range; the message names it.
    """
    declared = check_strategy(strategy)
    if not isinstance(options, dict):
        raise SpecError("oracle_options: must be an object of tuner arguments")
    declarations = by_name(declared.options)
    unknown = sorted(set(options) - set(declarations))
    if unknown:
        raise SpecError(
            f"oracle_options: {strategy} takes no option {', '.join(unknown)}; its options are "
            f"{', '.join(declared.option_names)}"
        )
    for name, value in options.items():
        declarations[name].check(value, prefix="oracle_options.")
    if declared.check_together is not None:
        declared.check_together(options, max_trials)


def options_table(strategy: str) -> str:
    """The Markdown table of a strategy's options, as the README shows it."""
    rows = ["| argument | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{option.name}` | {option.default_words()} | {option.help} |"
             for option in STRATEGIES[strategy].options]
    return "\n".join(rows)


def create_tuner(
    spec: SearchSpec,
    hypermodel: keras_tuner.HyperModel,
    *,
    objective: Any,
    directory: str,
    project_name: str,
    overwrite: bool,
    observer: SearchObserver | None = None,
) -> keras_tuner.Tuner:
    """Builds the tuner of a search's strategy, with evokt's common options.

    The spec was checked when it was made, so its options are passed on as
    they are. Every strategy runs `max_trials` trials at most. Hyperband
    trains its trials for up to `epochs` epochs each (fewer for the trials
    it halts early) and is capped at `max_trials` trials like the others.
    Genetic-hyperband's budget is epochs, not trials: `max_epochs_budget`,
    by default `max_trials * epochs` (see `epoch_budget`), with trials of up
    to `epochs` epochs. Every strategy writes its state files crash-safely
    (`evokt.compat`) and measures every trial's model
    (`evokt.oracles.measures`).

    Args:
        spec: The search: its `oracle`, `max_trials`, `epochs`, `seed`,
            `oracle_options` (keyword arguments of the strategy's tuner, see
            `Strategy.options`), constraints, `folds`, `keep_checkpoints` and
            `max_epochs_budget`.
        hypermodel: The `HyperModel` that defines the search space.
        objective: The objective, as for any `keras_tuner.Tuner`.
        directory: Parent folder of the KerasTuner project.
        project_name: The project's folder name inside `directory`.
        overwrite: Whether to discard an existing project there.
        observer: Optional `SearchObserver` told of every trial's start and
            end.
    """
    from evokt.oracles.tuner import evokt_tuner

    kwargs = dict(
        hypermodel=hypermodel,
        objective=objective,
        seed=spec.seed,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        constraints=spec.constraints,
        folds=spec.folds,
        keep_checkpoints=spec.keep_checkpoints,
        **spec.oracle_options,
    )
    if spec.oracle == "hyperband":
        kwargs.update(max_epochs=spec.epochs, hyperband_iterations=None)
    elif spec.oracle in EPOCH_BUDGETED:
        kwargs.update(max_epochs=spec.epochs, max_epochs_budget=epoch_budget(
            spec.max_trials, spec.epochs, spec.max_epochs_budget))
    else:
        kwargs.update(max_trials=spec.max_trials)
    tuner_class = evokt_tuner(STRATEGIES[spec.oracle].tuner_class)
    if observer is not None:
        from evokt.search.observe import observed

        tuner_class = observed(tuner_class)
        kwargs["observer"] = observer
    tuner = tuner_class(**kwargs)
    if spec.oracle == "hyperband":
        # HyperbandOracle takes no `max_trials`, but the base Oracle honours the
        # attribute; with endless iterations this gives it the common budget.
        tuner.oracle.max_trials = spec.max_trials
    return tuner
