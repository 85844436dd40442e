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
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from tuner_ext.oracles.defaults import DEFAULT_CANDIDATES
from tuner_ext.oracles.defaults import DEFAULT_MAX_EVALUATIONS
from tuner_ext.oracles.defaults import DEFAULT_REEVALUATION_SHARE
from tuner_ext.oracles.defaults import GENETIC_HYPERBAND_POPULATION
from tuner_ext.oracles.defaults import default_population_size
from tuner_ext.search.errors import SpecError

if TYPE_CHECKING:
    import keras_tuner

    from tuner_ext.search.observe import SearchObserver

# The most configurations `initial_hps` may list.
MAX_INITIAL_HPS = 100
# The largest population, tournament, budget or count an option may name.
MAX_COUNT = 10_000


@dataclass(frozen=True)
class Option:
    """One keyword argument of a strategy's tuner that a search may set.

    Args:
        name: The argument's name.
        kind: "int", "float", "bool" or "configurations" (a list of objects
            of hyperparameter values).
        default: What the tuner uses when the option is left out, in words.
        meaning: One line on what it does.
        minimum: The smallest number allowed (int and float).
        maximum: The largest number allowed (int and float).
        exclusive_minimum: Whether `minimum` itself is excluded.
    """

    name: str
    kind: str
    default: str
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False

    def check(self, value: Any) -> None:
        """Raises SpecError, naming the option, unless `value` is allowed."""
        field = f"oracle_options.{self.name}"
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"{field}: must be true or false, got {value!r}")
            return
        if self.kind == "configurations":
            _check_configurations(field, value)
            return
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind == "int" and not (is_number and isinstance(value, int)
                                       and self._in_range(value)):
            raise SpecError(f"{field}: must be an integer {self.range_text()}, got {value!r}")
        if not is_number or not math.isfinite(value) or not self._in_range(value):
            raise SpecError(f"{field}: must be a number {self.range_text()}, got {value!r}")

    def _in_range(self, value: float) -> bool:
        if self.minimum is not None:
            if value < self.minimum or (self.exclusive_minimum and value == self.minimum):
                return False
        return self.maximum is None or value <= self.maximum

    def range_text(self) -> str:
        """The allowed range in words: "from 2 to 100", "above 0 and at most 1"."""
        if self.exclusive_minimum:
            return f"above {self.minimum:g} and at most {self.maximum:g}"
        return f"from {self.minimum:g} to {self.maximum:g}"


def _check_configurations(field: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SpecError(f"{field}: must be a list of objects of hyperparameter values")
    if len(value) > MAX_INITIAL_HPS:
        raise SpecError(f"{field}: at most {MAX_INITIAL_HPS} configurations, got {len(value)}")
    for index, configuration in enumerate(value):
        for name, item in configuration.items():
            if not isinstance(item, (str, int, float, bool)) or (
                isinstance(item, float) and not math.isfinite(item)
            ):
                raise SpecError(
                    f"{field}[{index}].{name}: must be a number, a string or a boolean"
                )


_RETRIES = Option("max_retries_per_trial", "int", "0", "retries of a trial that crashed",
                  minimum=0, maximum=10)
_FAILURES = Option("max_consecutive_failed_trials", "int", "3",
                   "failed trials in a row after which the search stops",
                   minimum=1, maximum=MAX_COUNT)
_TUNE_NEW = Option("tune_new_entries", "bool", "true",
                   "whether hyperparameters the hypermodel adds are searched")
_ALLOW_NEW = Option("allow_new_entries", "bool", "true",
                    "whether the hypermodel may add hyperparameters")
_KERAS_TUNER_OPTIONS = (_TUNE_NEW, _ALLOW_NEW, _RETRIES, _FAILURES)
_EVOLUTION_OPTIONS = (
    Option("mutation_scale", "float", "0.15",
           "numerical mutation step, in KerasTuner's `value_to_prob` space (respects `log` "
           "and `step`)", minimum=0, maximum=1, exclusive_minimum=True),
    Option("initial_hps", "configurations", "none",
           "configurations to evaluate first; missing hyperparameters take their defaults"),
    Option("trial_timeout", "float", "none (never)",
           "seconds after which a trial whose worker has not ended it goes to another worker",
           minimum=0, maximum=7 * 24 * 3600, exclusive_minimum=True),
    *_KERAS_TUNER_OPTIONS,
)


# Noise-aware, model-guided proposals of the genetic and greedy oracles (one
# objective; a Pareto search ignores them).
_GUIDANCE_OPTIONS = (
    Option("candidates", "int", str(DEFAULT_CANDIDATES),
           "candidates a density ratio model of the completed trials (TPE's) screens per "
           "proposal, evaluating the most promising; 1 turns the model off",
           minimum=1, maximum=1000),
    Option("max_evaluations", "int", str(DEFAULT_MAX_EVALUATIONS),
           "the most evaluations of one configuration: the leader and its strongest "
           "challenger are re-evaluated (trials that show `reevaluates`) and ranked by "
           "their mean; 1 turns re-evaluation off", minimum=1, maximum=100),
    Option("reevaluation_share", "float", str(DEFAULT_REEVALUATION_SHARE),
           "the largest share of `max_trials` spent on re-evaluations; 0 turns them off",
           minimum=0, maximum=0.9),
)


def _tournament_check(default_population: Callable[[int], int]) -> Callable:
    """A check that `sample_size` is at most the population (given or default)."""

    def check(options: dict[str, Any], max_trials: int) -> None:
        population = options.get("population_size", default_population(max_trials))
        sample = options.get("sample_size")
        if sample is not None and sample > population:
            raise SpecError(
                f"oracle_options.sample_size: must be at most population_size ({population}), "
                f"got {sample}"
            )

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
    options: tuple[Option, ...] = _KERAS_TUNER_OPTIONS
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
            "genetic", "tuner_ext.oracles.genetic:GeneticSearch", "aging evolution (evokt)",
            options=(
                Option("population_size", "int", "`max_trials // 3`, clipped to [4, 100]",
                       "how many recent completed trials form the population; until that "
                       "many complete, proposals are random", minimum=2, maximum=MAX_COUNT),
                Option("sample_size", "int",
                       "`population_size`; three quarters of it with several objectives",
                       "tournament size, at most `population_size`; larger is greedier",
                       minimum=1, maximum=MAX_COUNT),
                Option("crossover_prob", "float", "0.5",
                       "probability of crossing the winner with a second winner before "
                       "mutating (with the default tournament both are the best, so only "
                       "tied configurations mix)", minimum=0, maximum=1),
                *_GUIDANCE_OPTIONS,
                *_EVOLUTION_OPTIONS,
            ),
            check_together=_tournament_check(default_population_size),
        ),
        Strategy(
            "greedy", "tuner_ext.oracles.greedy:GreedySearch",
            "hill-climbing from the best trial (evokt)",
            options=(
                Option("random_starts", "int", "`max_trials // 10`, clipped to [2, 10]",
                       "trials to complete before climbing", minimum=1, maximum=MAX_COUNT),
                Option("max_mutations", "int", "2",
                       "the most hyperparameters one step changes", minimum=1, maximum=100),
                *_GUIDANCE_OPTIONS,
                *_EVOLUTION_OPTIONS,
            ),
        ),
        Strategy("random", "keras_tuner:RandomSearch", "random search (KerasTuner)"),
        Strategy(
            "bayesian",
            "keras_tuner:BayesianOptimization",
            "Gaussian-process Bayesian optimisation (KerasTuner)",
            options=(
                Option("num_initial_points", "int", "3 per hyperparameter",
                       "random trials before the Gaussian process", minimum=1,
                       maximum=MAX_COUNT),
                Option("alpha", "float", "0.0001", "noise added to the Gaussian process",
                       minimum=0, maximum=1, exclusive_minimum=True),
                Option("beta", "float", "2.6", "exploration weight of the acquisition",
                       minimum=0, maximum=100),
                *_KERAS_TUNER_OPTIONS,
            ),
        ),
        Strategy(
            "hyperband",
            "keras_tuner:Hyperband",
            "successive halving of training epochs (KerasTuner)",
            options=(
                Option("factor", "int", "3", "reduction factor between rungs", minimum=2,
                       maximum=100),
                *_KERAS_TUNER_OPTIONS,
            ),
        ),
        Strategy("grid", "keras_tuner:GridSearch", "exhaustive grid (KerasTuner)"),
        Strategy(
            "genetic-hyperband",
            "tuner_ext.oracles.genetic_hyperband:GeneticHyperband",
            "successive halving of training epochs, new networks bred by evolution (evokt)",
            options=(
                Option("factor", "int", "3", "ratio of two rungs' epochs, and the inverse of the "
                       "share of a rung promoted", minimum=2, maximum=100),
                Option("min_epochs", "int", "1", "the fewest epochs of the lowest rung",
                       minimum=1, maximum=1000),
                Option("population_size", "int", "10", "recent completed trials of a rung that "
                       "breed new networks (the highest rung with that many)",
                       minimum=2, maximum=MAX_COUNT),
                Option("sample_size", "int", "three quarters of `population_size`, at least 2",
                       "tournament size, at most `population_size`", minimum=1,
                       maximum=MAX_COUNT),
                Option("crossover_prob", "float", "0.5",
                       "probability of crossing the winner with a second winner before "
                       "mutating", minimum=0, maximum=1),
                Option("random_fraction", "float", "0.2", "share of new networks drawn at "
                       "random once evolution has started", minimum=0, maximum=0.99),
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
    by_name = {option.name: option for option in declared.options}
    unknown = sorted(set(options) - set(by_name))
    if unknown:
        raise SpecError(
            f"oracle_options: {strategy} takes no option {', '.join(unknown)}; its options are "
            f"{', '.join(declared.option_names)}"
        )
    for name, value in options.items():
        by_name[name].check(value)
    if declared.check_together is not None:
        declared.check_together(options, max_trials)


def options_table(strategy: str) -> str:
    """The Markdown table of a strategy's options, as the README shows it."""
    rows = ["| argument | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{option.name}` | {option.default} | {option.meaning} |"
             for option in STRATEGIES[strategy].options]
    return "\n".join(rows)


def create_tuner(
    strategy: str,
    hypermodel: keras_tuner.HyperModel,
    *,
    objective: Any,
    max_trials: int,
    epochs: int,
    seed: int | None,
    directory: str,
    project_name: str,
    overwrite: bool,
    options: dict | None = None,
    constraints: dict[str, float] | None = None,
    folds: int = 1,
    max_epochs_budget: int | None = None,
    observer: SearchObserver | None = None,
) -> keras_tuner.Tuner:
    """Builds the tuner of a named strategy with evokt's common options.

    Every strategy runs `max_trials` trials at most. Hyperband trains its
    trials for up to `epochs` epochs each (fewer for the trials it halts
    early) and is capped at `max_trials` trials like the others.
    Genetic-hyperband's budget is epochs, not trials: `max_epochs_budget`,
    by default `max_trials * epochs` (see `epoch_budget`), with trials of up
    to `epochs` epochs. Every
    strategy writes its state files crash-safely (`tuner_ext.compat`) and
    measures every trial's model (`tuner_ext.oracles.measures`).

    Args:
        strategy: One of `STRATEGIES`.
        hypermodel: The `HyperModel` that defines the search space.
        objective: The objective, as for any `keras_tuner.Tuner`.
        max_trials: The number of trials to run.
        epochs: Training epochs per trial (Hyperband: at most).
        seed: Optional random seed for the oracle.
        directory: Parent folder of the KerasTuner project.
        project_name: The project's folder name inside `directory`.
        overwrite: Whether to discard an existing project there.
        options: Extra keyword arguments of the strategy's tuner, such as
            `population_size` for `genetic` or `num_initial_points` for
            `bayesian`; see `Strategy.options`.
        constraints: Optional upper bounds on metrics (`{"params": 50000}`):
            a trial over them is never recommended nor exported, and evokt's
            oracles never breed from it.
        folds: 1, or K to score trials by K-fold cross-validation (see
            `tuner_ext.oracles.tuner.EvoktTuner`).
        max_epochs_budget: Optional total training epochs, for the
            strategies in `EPOCH_BUDGETED`.
        observer: Optional `SearchObserver` told of every trial's start and
            end.

    Raises:
        SpecError: Unknown strategy, options the tuner does not take, or an
            epoch budget for a strategy that has none.
        ValueError: The tuner refused the combination of its arguments
            (say a `sample_size` above the `population_size`).
    """
    from tuner_ext import compat
    from tuner_ext.oracles.tuner import evokt_tuner

    check_options(strategy, options or {}, max_trials)
    if max_epochs_budget is not None and strategy not in EPOCH_BUDGETED:
        raise SpecError(f"max_epochs_budget: only {', '.join(EPOCH_BUDGETED)} has an epoch "
                        f"budget, not {strategy}")
    compat.install()
    kwargs = dict(
        hypermodel=hypermodel,
        objective=objective,
        seed=seed,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        **(options or {}),
    )
    if strategy == "hyperband":
        kwargs.update(max_epochs=epochs, hyperband_iterations=None)
    elif strategy in EPOCH_BUDGETED:
        kwargs.update(max_epochs=epochs,
                      max_epochs_budget=epoch_budget(max_trials, epochs, max_epochs_budget))
    else:
        kwargs.update(max_trials=max_trials)
    tuner_class = evokt_tuner(STRATEGIES[strategy].tuner_class)
    kwargs.update(constraints=constraints, folds=folds)
    if observer is not None:
        from tuner_ext.search.observe import observed

        tuner_class = observed(tuner_class)
        kwargs["observer"] = observer
    tuner = tuner_class(**kwargs)
    if strategy == "hyperband":
        # HyperbandOracle takes no `max_trials`, but the base Oracle honours the
        # attribute; with endless iterations this gives it the common budget.
        tuner.oracle.max_trials = max_trials
    return tuner
