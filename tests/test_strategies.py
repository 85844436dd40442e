"""All six strategies run real training through the one registry, with declared options."""

import inspect
import os

import keras_tuner
import pytest

from evokt import STRATEGIES
from evokt import GeneticOracle
from evokt import GreedyOracle
from evokt import create_tuner
from evokt.hypermodels import data
from evokt.hypermodels import default_objective
from evokt.hypermodels import hypermodel_for
from evokt.oracles.tuner import EvoktTuner
from evokt.search.errors import SpecError
from evokt.search.observe import SearchObserver
from evokt.search.spec import SearchSpec
from evokt.search.strategies import check_options
from evokt.search.strategies import options_table


class Recorder(SearchObserver):
    def __init__(self):
        self.events = []

    def trial_started(self, oracle, trial):
        self.events.append(("start", trial.trial_id))

    def trial_ended(self, oracle, trial):
        self.events.append(("end", trial.trial_id, trial.status))


@pytest.fixture(scope="module")
def iris():
    return data.load_builtin("iris")


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategy_runs_the_same_hypermodel_for_max_trials(strategy, iris, tmp_path):
    recorder = Recorder()
    tuner = create_tuner(
        SearchSpec(dataset="iris", oracle=strategy, max_trials=3, epochs=2, seed=1),
        hypermodel_for(iris, "mlp", max_layers=2),
        objective=default_objective(iris.task),
        directory=str(tmp_path),
        project_name="p",
        overwrite=False,
        observer=recorder,
    )
    tuner.search(iris.x_train, iris.y_train, validation_data=(iris.x_val, iris.y_val),
                 epochs=2, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 3
    assert all(trial.status == "COMPLETED" for trial in trials)
    assert [event[0] for event in recorder.events] == ["start", "end"] * 3
    best = tuner.get_best_models(1)[0]
    assert best.predict(iris.x_val[:3], verbose=0).shape == (3, 3)


def test_strategy_options_reach_the_oracle(iris, tmp_path):
    spec = SearchSpec(dataset="iris", max_trials=10, epochs=1, oracle_options={
        "population_size": 6, "sample_size": 3, "crossover_prob": 0.5})
    tuner = create_tuner(spec, hypermodel_for(iris), objective="val_accuracy",
                         directory=str(tmp_path), project_name="p", overwrite=False)
    assert (tuner.oracle.population_size, tuner.oracle.sample_size) == (6, 3)
    assert tuner.oracle.crossover_prob == 0.5


def test_unknown_strategy_and_options_are_refused_with_the_valid_ones_named():
    with pytest.raises(SpecError, match="oracle: unknown 'annealing'; choose genetic, greedy"):
        SearchSpec(dataset="iris", oracle="annealing")
    with pytest.raises(SpecError, match="random takes no option population_size; its options are"):
        SearchSpec(dataset="iris", oracle="random", oracle_options={"population_size": 4})


@pytest.mark.parametrize(
    "strategy,options,message",
    [
        ("genetic", {"population_size": "abc"},
         "oracle_options.population_size: must be an integer from 2 to 10000, got 'abc'"),
        ("genetic", {"population_size": -5}, "oracle_options.population_size: must be an integer"),
        ("genetic", {"population_size": 10**12}, "from 2 to 10000, got 1000000000000"),
        ("genetic", {"population_size": 4.0}, "must be an integer from 2 to 10000, got 4.0"),
        ("genetic", {"population_size": True}, "must be an integer from 2 to 10000, got True"),
        ("genetic", {"crossover_prob": 5}, "oracle_options.crossover_prob: must be a number from 0 "
                                           "to 1, got 5"),
        ("genetic", {"initial_hps": "x"},
         "oracle_options.initial_hps: must be a list of objects of hyperparameter values"),
        ("genetic", {"initial_hps": [{"units": {"nested": 1}}]},
         "oracle_options.initial_hps[0].units: must be a number, a string or a boolean"),
        ("genetic", {"trial_timeout": "x"},
         "oracle_options.trial_timeout: must be a number above 0"),
        ("genetic", {"trial_timeout": 0}, "oracle_options.trial_timeout: must be a number above 0"),
        ("genetic", {"sample_size": 20},
         "oracle_options: `sample_size` must be between 1 and `population_size` (4), got 20"),
        ("genetic", {"population_size": 6, "sample_size": 7},
         "oracle_options: `sample_size` must be between 1 and `population_size` (6), got 7"),
        ("greedy", {"max_consecutive_failed_trials": -1},
         "oracle_options.max_consecutive_failed_trials: must be an integer from 1 to 10000"),
        ("bayesian", {"alpha": 0},
         "oracle_options.alpha: must be a number above 0 and at most 1, got 0"),
        ("hyperband", {"factor": 1}, "oracle_options.factor: must be an integer from 2 to 100"),
        ("random", {"tune_new_entries": "yes"},
         "oracle_options.tune_new_entries: must be true or false, got 'yes'"),
        ("genetic", [1], "oracle_options: must be an object of tuner arguments"),
        ("genetic", {"reevaluation_share": 1.0},
         "oracle_options.reevaluation_share: must be a number from 0 to 0.9, got 1.0"),
        ("greedy", {"candidates": 0},
         "oracle_options.candidates: must be an integer from 1 to 1000"),
        ("genetic", {"max_evaluations": 2.5},
         "oracle_options.max_evaluations: must be an integer from 1 to 100"),
        ("genetic-hyperband", {"candidates": 24}, "genetic-hyperband takes no option candidates"),
    ],
)
def test_options_are_checked_by_type_and_range_naming_the_field(strategy, options, message):
    with pytest.raises(SpecError) as raised:
        check_options(strategy, options, max_trials=12)
    assert message in str(raised.value)


def tuner_parameters(strategy) -> dict:
    """The keyword arguments of the tuner a strategy runs: its class's, and those of
    `EvoktTuner` (which `create_tuner` always mixes in)."""
    return {**inspect.signature(EvoktTuner.__init__).parameters,
            **inspect.signature(strategy.tuner_class.__init__).parameters}


def test_every_declared_option_is_a_keyword_the_tuner_takes():
    for strategy in STRATEGIES.values():
        assert set(strategy.option_names) <= set(tuner_parameters(strategy)), strategy.name


def test_every_declared_default_is_the_tuners_own_default():
    """A declared default is the tuner signature's value; where the tuner
    computes it (from `max_trials`, the population, the space: its signature
    says None) the declaration has no value, and says what it is in words."""
    for strategy in STRATEGIES.values():
        parameters = tuner_parameters(strategy)
        for option in strategy.options:
            assert option.default == parameters[option.name].default, (strategy.name,
                                                                        option.name)
            assert option.default_words() != "none" or option.name == "initial_hps"


def test_the_readme_shows_each_evokt_oracles_options_as_declared():
    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "README.md")) as file:
        readme = file.read()
    for strategy in ("genetic", "greedy", "genetic-hyperband"):
        assert options_table(strategy) in readme, strategy


@pytest.mark.parametrize("max_trials,population,pareto_sample,starts", [
    (9, 4, 3, 2), (30, 10, 7, 3), (100, 33, 24, 10), (1000, 100, 75, 10)])
def test_the_documented_defaults_are_the_oracles_defaults(
        max_trials, population, pareto_sample, starts):
    """The README says: population `max_trials // 3` in [4, 100], tournament the
    whole population (three quarters of it, at least 2, with several
    objectives), crossover 0.5, greedy starts `max_trials // 10` in [2, 10];
    the oracles built without options must agree."""
    genetic = GeneticOracle(objective=keras_tuner.Objective("score", "max"), max_trials=max_trials)
    assert (genetic.population_size, genetic.sample_size) == (population, population)
    assert genetic.crossover_prob == 0.5 and genetic.mutation_scale == 0.15
    pareto = GeneticOracle(objective=[keras_tuner.Objective("score", "max"),
                                      keras_tuner.Objective("params", "min")],
                           max_trials=max_trials)
    assert (pareto.population_size, pareto.sample_size) == (population, pareto_sample)
    greedy = GreedyOracle(objective=keras_tuner.Objective("score", "max"), max_trials=max_trials)
    assert greedy.random_starts == starts
    # The noise-aware, model-guided defaults of the README's tables.
    for oracle in (genetic, greedy):
        noise_options = (oracle.candidates, oracle.max_evaluations, oracle.reevaluation_share)
        assert noise_options == (24, 3, 0.15)
