"""The density ratio model that screens candidate children."""

import random
import statistics

import keras_tuner
from conftest import conditional_space
from conftest import continuous_space
from conftest import peak_score
from conftest import run_trials
from conftest import start_oracle

from evokt import GeneticOracle
from evokt.oracles import screening
from evokt.oracles import space as space_lib
from evokt.oracles.defaults import DEFAULT_CANDIDATES


def model_of(space, good, bad):
    hps = screening.modelled(space)
    ranked = [screening.encode(hps, values) for values in good + bad]
    assert screening.good_count(len(ranked)) == len(good)
    return screening.DensityRatio(hps, ranked)


def layers(count, units=64, activation="relu", dropout=0.2):
    values = {"num_layers": count, "dropout": dropout, "batch_norm": False, "optimizer": "adam"}
    for i in range(count):
        values[f"units_{i}"] = units
        values[f"activation_{i}"] = activation
    return values


def test_inactive_hyperparameters_are_encoded_apart_from_every_value():
    space = conditional_space()
    hps = screening.modelled(space)
    names = [hp.name for hp in hps]
    assert "optimizer" not in names  # Fixed: nothing to model
    encoded = dict(zip(names, screening.encode(hps, layers(1)), strict=True))
    assert encoded["units_1"] is None and encoded["activation_2"] is None
    assert 0.0 <= encoded["units_0"] < 1.0 and 0.0 <= encoded["dropout"] < 1.0


def test_candidates_like_the_good_configurations_score_higher():
    space = conditional_space()
    good = [layers(2, units=128, activation="tanh")]
    bad = [layers(2, units=units, activation="relu") for units in (16, 32, 64, 256)] * 2
    bad += [layers(1)]
    model = model_of(space, good, bad)
    near = layers(2, units=128, activation="tanh", dropout=0.3)
    neighbour = layers(2, units=64, activation="tanh", dropout=0.3)
    far = layers(2, units=16, activation="relu", dropout=0.3)
    scores = model.scores([far, neighbour, near])
    assert scores[2] > scores[1] > scores[0]
    assert model.best([far, neighbour, near]) == near


def test_depth_counts_through_the_inactive_hyperparameters():
    # The good networks are shallow; deeper candidates have layers the good
    # ones never had, and the model sees that as evidence against them.
    space = conditional_space()
    good = [layers(1, units=units) for units in (32, 64)]
    bad = [layers(3, units=units) for units in (16, 32, 64, 128, 256, 16, 32, 64, 128, 256)] + \
        [layers(2, units=units) for units in (16, 32, 64, 128, 256, 16, 32)]
    model = model_of(space, good, bad)
    shallow, deep = layers(1, units=64), layers(3, units=64)
    assert model.scores([shallow, deep])[0] > model.scores([shallow, deep])[1]


def test_draws_are_valid_configurations_near_the_good_ones():
    space = conditional_space()
    good = [layers(1, units=128, activation="tanh", dropout=0.1)] * 2
    bad = [layers(3, units=16, activation="relu", dropout=0.5)] * 18
    model = model_of(space, good, bad)
    rng = random.Random(0)
    draws = [model.sample(space, rng) for _ in range(300)]
    for values in draws:
        assert space_lib.complete_values(space, values, lambda hp: None) == values
    prior = [space_lib.random_values(space, random.Random(i)) for i in range(300)]

    def share(configurations, test):
        return sum(map(test, configurations)) / len(configurations)

    def like_good(values):
        return values["units_0"] == 128 and values["activation_0"] == "tanh"

    assert share(draws, like_good) > 2 * share(prior, like_good)


def with_unused_hyperparameters() -> keras_tuner.HyperParameters:
    """`continuous_space` plus six choices that `peak_score` ignores."""
    hp = continuous_space()
    for i in range(6):
        hp.Choice(f"unused_{i}", ["a", "b", "c", "d"])
    return hp


def test_model_guidance_finds_better_configurations_than_breeding_alone(tmp_path):
    """The oracle's defaults with and without the model (`candidates=1`).

    In many real searches most hyperparameters hardly matter. Here 10 of the
    16 that a three-layer network can change (activations, batch norm, the
    unused choices) do not: breeding alone mutates one of them in most
    children, which then score as their parent did. The model has learnt
    which values of those that matter are good, and picks the children (and
    draws) that move them there. In `continuous_space` alone, where most do
    matter, the default whole-population tournament makes breeding alone a
    hill-climber that does as well.
    """
    def recommended(candidates, seed):
        oracle = start_oracle(
            GeneticOracle(objective=keras_tuner.Objective("score", "max"),
                          hyperparameters=with_unused_hyperparameters(), max_trials=60,
                          seed=seed, candidates=candidates),
            str(tmp_path / f"{candidates}-{seed}"))
        run_trials(oracle, 60)
        return peak_score(oracle.get_best_trials(1)[0].hyperparameters.values)

    gains = [recommended(DEFAULT_CANDIDATES, seed) - recommended(1, seed) for seed in range(12)]
    assert statistics.mean(gains) > 0
    assert sum(gain > 0 for gain in gains) > sum(gain < 0 for gain in gains)
