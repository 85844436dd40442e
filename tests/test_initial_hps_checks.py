"""Given configurations (`initial_hps`) are checked against the hypermodel's
space when a search is made, by `evokt search` and by `POST /v1/searches`
alike: a value the space cannot take is refused then, named with what is
allowed, instead of killing the search's process at its first trial."""

from __future__ import annotations

import json

import pytest
from helpers import evokt
from service_helpers import AUTH

from evokt.hypermodels.presets import SEED_CNN_PRESETS
from evokt.search.cli import build_parser
from evokt.search.cli import spec_from_args
from evokt.search.errors import SpecError
from evokt.search.spec import SearchSpec

IRIS = ((4,), "classification")
DIGITS = ((8, 8, 1), "classification")


def checked(configurations: list[dict], oracle: str = "genetic", data=IRIS, **fields) -> str:
    spec = SearchSpec(dataset="iris", oracle=oracle,
                      oracle_options={"initial_hps": configurations}, **fields)
    return spec.check_data(*data)


@pytest.mark.parametrize("configurations,message", [
    ([{"num_layers": 1000000000}],
     "oracle_options.initial_hps[0].num_layers: 1000000000 is out of range [1, 3]"),
    ([{"num_layers": 2}, {"units_0": 24}],
     "oracle_options.initial_hps[1].units_0: 24 is not one of 16, 32, 64, 128, 256"),
    ([{"activation_1": "sigmoid"}],
     "oracle_options.initial_hps[0].activation_1: 'sigmoid' is not one of 'relu', 'tanh', "
     "'elu', 'gelu'"),
    ([{"num_layers": "two"}], "oracle_options.initial_hps[0].num_layers: 'two' is not an integer"),
    ([{"num_layers": True}], "oracle_options.initial_hps[0].num_layers: True is not an integer"),
    ([{"num_layers": 2.0}], "oracle_options.initial_hps[0].num_layers: 2.0 is not an integer"),
    ([{"batch_norm": 1}], "oracle_options.initial_hps[0].batch_norm: 1 is not true or false"),
    ([{"learning_rate": 0.5}],
     "oracle_options.initial_hps[0].learning_rate: 0.5 is out of range [0.0001, 0.01]"),
    ([{"units": 64}], "oracle_options.initial_hps[0].units: the mlp hypermodel has no such "
                      "hyperparameter; its hyperparameters are num_layers, dropout, batch_norm, "
                      "units_0, activation_0, units_1"),
])
def test_a_value_outside_the_space_is_refused_naming_it_and_what_is_allowed(
        configurations, message):
    with pytest.raises(SpecError) as error:
        checked(configurations)
    assert str(error.value).startswith(message), str(error.value)


def test_values_for_another_hypermodel_are_refused():
    with pytest.raises(SpecError, match=r"initial_hps\[0\]\.num_blocks: the mlp hypermodel "
                                        "has no such hyperparameter"):
        checked(SEED_CNN_PRESETS)
    with pytest.raises(SpecError, match=r"initial_hps\[0\]\.num_layers: the cnn hypermodel"):
        checked([{"num_layers": 2}], data=DIGITS)


def test_conditional_hyperparameters_and_every_strategy_that_takes_them_are_allowed():
    # units_2 is active only in 3-layer networks; given with 1 layer it is unused.
    configurations = [{"num_layers": 1, "units_2": 64, "activation_2": "elu"},
                      {"num_layers": 3, "units_2": 256, "dropout": 0.25, "learning_rate": 1e-3}]
    for oracle in ("genetic", "greedy", "genetic-hyperband"):
        assert checked(configurations, oracle=oracle) == "mlp"
    assert checked(SEED_CNN_PRESETS, data=DIGITS) == "cnn"
    sequence = [{"num_layers": 2, "layer_type_1": "conv1d", "kernel_size_1": 5}]
    assert checked(sequence, data=((20, 3), "regression")) == "sequence"


def test_the_seed_cnn_preset_still_fits_the_digits_cnn():
    args = build_parser().parse_args(["search", "--dataset", "digits", "--initial-hps",
                                      "seed-cnn"])
    spec = spec_from_args(args)
    assert spec.oracle_options["initial_hps"] == SEED_CNN_PRESETS
    assert spec.check_data(*DIGITS) == "cnn"


@pytest.mark.parametrize("how", ["option", "file"])
def test_the_cli_refuses_them_with_one_line_and_exit_2(tmp_path, how):
    configurations = [{"num_layers": 1000000000}]
    if how == "option":
        given = ["--option", f"initial_hps={json.dumps(configurations)}"]
    else:
        (tmp_path / "initial.json").write_text(json.dumps(configurations))
        given = ["--initial-hps", str(tmp_path / "initial.json")]
    result = evokt("search", "--dataset", "iris", "--max-trials", "2", "--epochs", "1", *given,
                   "--project-dir", str(tmp_path / "p"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "evokt: error: oracle_options.initial_hps[0].num_layers: 1000000000 is out of range "
        "[1, 3]")
    assert not (tmp_path / "p" / "oracle.json").exists()


@pytest.mark.parametrize("configurations,message", [
    ([{"num_layers": 1000000000}],
     "oracle_options.initial_hps[0].num_layers: 1000000000 is out of range [1, 3]"),
    ([{"filters_0": 32}], "oracle_options.initial_hps[0].filters_0: the mlp hypermodel has no"),
])
def test_the_service_answers_400_at_post_naming_the_value(app, client, configurations, message):
    response = client.post("/v1/searches", headers=AUTH, json={
        "dataset": "iris", "oracle_options": {"initial_hps": configurations}})
    assert response.status_code == 400
    assert response.json["error"].startswith(message), response.json
    assert client.get("/v1/searches", headers=AUTH).json["searches"] == []
    accepted = client.post("/v1/searches", headers=AUTH, json={
        "dataset": "iris", "oracle_options": {"initial_hps": [{"num_layers": 3}]}})
    assert accepted.status_code == 202, accepted.json
