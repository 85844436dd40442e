import random

import keras_tuner
import pytest
from conftest import conditional_space
from conftest import continuous_space

from evokt.oracles import space as space_lib


def test_random_values_hold_only_active_hyperparameters():
    space = conditional_space()
    rng = random.Random(0)
    for _ in range(200):
        values = space_lib.random_values(space, rng)
        layers = values["num_layers"]
        assert {f"units_{i}" for i in range(layers)} <= set(values)
        assert not {f"units_{i}" for i in range(layers, 3)} & set(values)
        assert values["optimizer"] == "adam"


def test_random_values_respect_step_and_log_grid():
    space = conditional_space()
    rng = random.Random(1)
    seen = {space_lib.random_values(space, rng)["units_0"] for _ in range(300)}
    assert seen == {16, 32, 64, 128, 256}


def test_enumeration_counts_every_configuration_of_a_conditional_space():
    hp = keras_tuner.HyperParameters()
    hp.Int("num_layers", 1, 2)
    for i in range(2):
        with hp.conditional_scope("num_layers", list(range(i + 1, 3))):
            hp.Choice(f"units_{i}", [8, 16, 32])
    hp.Boolean("flag")
    configurations = list(space_lib.iter_configurations(hp))
    # 1 layer: 3 widths; 2 layers: 3 x 3 widths; times 2 flags.
    assert len(configurations) == (3 + 9) * 2
    assert len({tuple(sorted(c.items())) for c in configurations}) == len(configurations)
    assert all("units_1" not in c for c in configurations if c["num_layers"] == 1)


def test_continuous_space_is_not_enumerable():
    assert space_lib.iter_configurations(continuous_space()) is None


def test_complete_values_fills_defaults_and_drops_inactive_values():
    values = space_lib.complete_values(
        conditional_space(),
        {"num_layers": 1, "units_0": 64, "units_2": 32},
        lambda hp: hp.default,
    )
    assert values["units_0"] == 64
    assert values["activation_0"] == "relu"
    assert "units_2" not in values


@pytest.mark.parametrize(
    "given", [{"units_0": 100}, {"activation_0": "sigmoid"}, {"dropout": 0.9}, {"num_layers": 7}]
)
def test_complete_values_rejects_values_outside_the_space(given):
    with pytest.raises(ValueError, match="not a valid value"):
        space_lib.complete_values(conditional_space(), given, lambda hp: hp.default)
