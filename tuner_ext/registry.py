"""The one list of search strategies: name -> KerasTuner tuner.

The CLI and the service look strategies up here, so all seven take the same
hypermodels and the same options, and a new strategy is one entry. Tuner
classes are imported when first used, so listing the names is cheap.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import keras_tuner

    from tuner_ext.observe import SearchObserver


@dataclass(frozen=True)
class Strategy:
    """A search strategy the CLI and the service can run.

    Args:
        name: The strategy's name on the command line and in requests.
        tuner_path: "module:Class" of the `keras_tuner.Tuner` that runs it.
        summary: One line for `--help`.
    """

    name: str
    tuner_path: str
    summary: str

    @property
    def tuner_class(self) -> type[keras_tuner.Tuner]:
        module, attribute = self.tuner_path.split(":")
        return getattr(importlib.import_module(module), attribute)


STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        Strategy("genetic", "tuner_ext.genetic:GeneticSearch", "aging evolution (evokt)"),
        Strategy(
            "greedy", "tuner_ext.greedy:GreedySearch", "hill-climbing from the best trial (evokt)"
        ),
        Strategy("random", "keras_tuner:RandomSearch", "random search (KerasTuner)"),
        Strategy(
            "bayesian",
            "keras_tuner:BayesianOptimization",
            "Gaussian-process Bayesian optimisation (KerasTuner)",
        ),
        Strategy(
            "hyperband",
            "keras_tuner:Hyperband",
            "successive halving of training epochs (KerasTuner)",
        ),
        Strategy("grid", "keras_tuner:GridSearch", "exhaustive grid (KerasTuner)"),
        Strategy(
            "genetic-hyperband",
            "tuner_ext.genetic_hyperband:GeneticHyperband",
            "successive halving of training epochs, new networks bred by evolution (evokt)",
        ),
    )
}


# Arguments every strategy gets from `create_tuner` itself, not from options.
_COMMON_ARGUMENTS = {
    "self",
    "hypermodel",
    "objective",
    "max_trials",
    "max_epochs",
    "max_epochs_budget",
    "hyperband_iterations",
    "seed",
    "hyperparameters",
    "kwargs",
}


def tunable_options(strategy: str) -> list[str]:
    """The strategy-specific keyword arguments `create_tuner` accepts."""
    signature = inspect.signature(STRATEGIES[strategy].tuner_class.__init__)
    return [name for name in signature.parameters if name not in _COMMON_ARGUMENTS]


# Strategies whose budget is training epochs, not trials.
EPOCH_BUDGETED = ("genetic-hyperband",)


def epoch_budget(max_trials: int, epochs: int, max_epochs_budget: Optional[int]) -> int:
    """The epochs an epoch-budgeted strategy may train in all.

    `max_epochs_budget` when given, else `max_trials * epochs`: what a strategy
    that trains every trial in full spends on `max_trials` trials.
    """
    return max_trials * epochs if max_epochs_budget is None else max_epochs_budget


def create_tuner(
    strategy: str,
    hypermodel: keras_tuner.HyperModel,
    *,
    objective: Any,
    max_trials: int,
    epochs: int,
    seed: Optional[int],
    directory: str,
    project_name: str,
    overwrite: bool,
    options: Optional[dict] = None,
    observer: Optional[SearchObserver] = None,
    max_epochs_budget: Optional[int] = None,
) -> keras_tuner.Tuner:
    """Builds the tuner of a named strategy with evokt's common options.

    Every strategy runs `max_trials` trials at most. Hyperband trains its
    trials for up to `epochs` epochs each (fewer for the trials it halts
    early) and is capped at `max_trials` trials like the others.
    Genetic-hyperband's budget is epochs, not trials: `max_epochs_budget`,
    by default `max_trials * epochs` (see `epoch_budget`), with trials of up
    to `epochs` epochs.

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
            `bayesian`.
        observer: Optional `SearchObserver` told of every trial's start and
            end.
        max_epochs_budget: Optional total training epochs, for the
            strategies in `EPOCH_BUDGETED`.

    Raises:
        ValueError: Unknown strategy, options the tuner does not take, or an
            epoch budget for a strategy that has none.
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {strategy!r}; choose one of "
            f"{', '.join(STRATEGIES)}."
        )
    if max_epochs_budget is not None and strategy not in EPOCH_BUDGETED:
        raise ValueError(
            f"Strategy {strategy!r} has no epoch budget; "
            f"{', '.join(EPOCH_BUDGETED)} has."
        )
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
    tuner_class = STRATEGIES[strategy].tuner_class
    unknown = sorted(set(options or {}) - set(tunable_options(strategy)))
    if unknown:
        raise ValueError(
            f"Strategy {strategy!r} takes no option {', '.join(unknown)}; "
            f"its options are {', '.join(tunable_options(strategy)) or 'none'}."
        )
    if observer is not None:
        from tuner_ext.observe import observed

        tuner_class = observed(tuner_class)
        kwargs["observer"] = observer
    # Imported for its side effect: atomic state files for every strategy.
    import tuner_ext.evolution  # noqa: F401

    tuner = tuner_class(**kwargs)
    if strategy == "hyperband":
        # HyperbandOracle takes no `max_trials`, but the base Oracle honours the
        # attribute; with endless iterations this gives it the common budget.
        tuner.oracle.max_trials = max_trials
    return tuner
