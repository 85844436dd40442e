import random

from conftest import conditional_space
from conftest import continuous_space

from evokt.oracles import mutation
from evokt.oracles import space as space_lib

PARENT = {
    "num_layers": 2,
    "units_0": 64,
    "activation_0": "relu",
    "units_1": 32,
    "activation_1": "tanh",
    "dropout": 0.2,
    "batch_norm": False,
    "optimizer": "adam",
}


def test_a_mutation_changes_exactly_one_active_value_when_structure_stays():
    space = conditional_space()
    rng = random.Random(3)
    same_structure = 0
    for _ in range(300):
        child = mutation.mutate(space, PARENT, rng, num_mutations=1)
        if child["num_layers"] != PARENT["num_layers"]:
            continue
        same_structure += 1
        changed = [name for name in PARENT if child[name] != PARENT[name]]
        assert len(changed) == 1
    # Most single mutations leave the depth alone: the check above ran many times.
    assert same_structure > 200


def test_mutation_never_touches_inactive_or_fixed_hyperparameters():
    space = conditional_space()
    rng = random.Random(4)
    for _ in range(300):
        child = mutation.mutate(space, PARENT, rng, num_mutations=3)
        assert child["optimizer"] == "adam"
        for i in range(child["num_layers"]):
            assert f"units_{i}" in child
        assert "units_2" not in child or child["num_layers"] == 3


def test_deepening_samples_new_layers_and_shallowing_drops_them():
    space = conditional_space()
    rng = random.Random(5)
    children = [mutation.mutate(space, PARENT, rng) for _ in range(400)]
    deeper = [child for child in children if child["num_layers"] == 3]
    shallower = [child for child in children if child["num_layers"] == 1]
    assert deeper and shallower
    assert all(child["units_0"] == 64 and "units_2" in child for child in deeper)
    assert all("units_1" not in child and "activation_1" not in child for child in shallower)


def test_numerical_mutation_moves_to_nearby_values_on_the_grid():
    space = conditional_space()
    hp = next(item for item in space.space if item.name == "units_0")
    rng = random.Random(6)
    moves = [mutation.mutate_value(hp, 64, rng, scale=0.15) for _ in range(500)]
    assert set(moves) <= {16, 32, 128, 256}
    assert 64 not in moves
    nearby = sum(1 for value in moves if value in (32, 128))
    assert nearby > 0.6 * len(moves)


def test_log_scaled_float_mutation_stays_in_range_and_changes():
    space = continuous_space()
    hp = next(item for item in space.space if item.name == "learning_rate")
    rng = random.Random(7)
    for _ in range(200):
        value = mutation.mutate_value(hp, 1e-3, rng, scale=0.15)
        assert value != 1e-3
        assert hp.min_value <= value <= hp.max_value
    # A step in probability space is a factor, not an offset, on a log scale.
    assert space_lib.is_valid(hp, mutation.mutate_value(hp, 1e-4, rng, scale=0.15))


def test_boolean_flips_and_choice_takes_another_value():
    space = conditional_space()
    flag = next(item for item in space.space if item.name == "batch_norm")
    choice = next(item for item in space.space if item.name == "activation_0")
    rng = random.Random(8)
    assert mutation.mutate_value(flag, False, rng, 0.15) is True
    assert mutation.mutate_value(choice, "relu", rng, 0.15) == "tanh"


def test_log_scaled_int_neighbours_stay_ints():
    # KerasTuner's Int.values are floats on a log scale; 256.0 must never
    # appear, or the same network would hash as a new configuration.
    space = conditional_space()
    hp = next(item for item in space.space if item.name == "units_0")
    rng = random.Random(9)
    values = {mutation.mutate_value(hp, 128, rng, scale=0.01) for _ in range(100)}
    assert values <= {64, 256}
    assert all(type(value) is int for value in values)
    assert all(type(value) is int for value in space_lib.finite_values(hp))
