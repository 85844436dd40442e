"""Every search option is declared once (`evokt.search.spec.SETTINGS`, each
strategy's `options`), and what users run agrees with the declaration:
`evokt search`'s flags, the service's `POST /v1/searches` and its OpenAPI
document take the same options, with the same defaults and bounds, and
refuse the same bad values with the same message."""

from __future__ import annotations

import argparse

import pytest
from service_helpers import AUTH
from service_helpers import store_of

from evokt.search.cli import build_parser
from evokt.search.cli import spec_from_args
from evokt.search.errors import SpecError
from evokt.search.settings import Setting
from evokt.search.spec import SETTINGS
from evokt.search.spec import SearchSpec
from evokt.search.strategies import STRATEGIES
from evokt.service.openapi import strategy_schema_name
from evokt.service.searches import SEARCH_FIELDS


def flag(setting: Setting) -> str:
    return "--" + setting.name.replace("_", "-")


def search_flags() -> set[str]:
    parser = build_parser()
    commands = next(action for action in parser._actions
                    if isinstance(action, argparse._SubParsersAction))
    return set(commands.choices["search"]._option_string_actions)


def cli_spec(*argv: str) -> SearchSpec:
    return spec_from_args(build_parser().parse_args(["search", "--dataset", "iris", *argv]))


def schemas(client) -> dict:
    return client.get("/openapi.json").json["components"]["schemas"]


def post_search(client, **body):
    return client.post("/v1/searches", json={"dataset": "iris", **body}, headers=AUTH)


def bad_values(setting: Setting) -> list:
    """Values just outside the declared range (or choices) of a setting."""
    if setting.kind == "choice":
        return ["no-such-thing"]
    if setting.kind not in ("int", "float"):
        return []
    number = int if setting.kind == "int" else float
    step = number(1 if setting.kind == "int" else 0.5)
    below = number(setting.minimum) if setting.exclusive_minimum else setting.minimum - step
    return [number(below), number(setting.maximum + step)]


def test_every_setting_is_a_flag_a_request_field_and_a_schema_property(client):
    flags = search_flags()
    request = schemas(client)["SearchRequest"]["properties"]
    for setting in SETTINGS:
        assert flag(setting) in flags, setting.name
        assert setting.name in SEARCH_FIELDS and setting.name in request, setting.name
    assert set(request) == SEARCH_FIELDS


def test_left_out_every_setting_has_the_same_default_everywhere(app, client):
    from_cli = cli_spec()
    queued = post_search(client)
    assert queued.status_code == 202, queued.json
    stored = store_of(app).search(queued.json["id"])["spec"]
    request = schemas(client)["SearchRequest"]["properties"]
    for setting in SETTINGS:
        assert getattr(from_cli, setting.name) == stored[setting.name] == setting.default, \
            setting.name
        assert request[setting.name].get("default") == setting.default, setting.name


def test_every_setting_has_the_same_bounds_in_the_document(client):
    request = schemas(client)["SearchRequest"]["properties"]
    for setting in SETTINGS:
        schema = request[setting.name]
        low = "exclusiveMinimum" if setting.exclusive_minimum else "minimum"
        assert (schema.get(low), schema.get("maximum")) == (setting.minimum, setting.maximum), \
            setting.name
        if setting.kind == "choice":
            assert schema["enum"] == list(setting.choices)


@pytest.mark.parametrize("setting,value", [
    (setting, value) for setting in SETTINGS for value in bad_values(setting)],
    ids=lambda item: getattr(item, "name", str(item)))
def test_the_cli_and_the_service_refuse_a_bad_value_with_the_same_message(
        client, setting, value):
    with pytest.raises(SpecError) as refused:
        cli_spec(flag(setting), str(value))
    response = post_search(client, **{setting.name: value})
    assert response.status_code == 400
    assert response.json["error"] == str(refused.value)
    assert str(refused.value).startswith(f"{setting.name}: ")


def test_every_strategy_option_has_its_declared_default_and_bounds_in_the_document(client):
    documented = schemas(client)
    for name, strategy in STRATEGIES.items():
        properties = documented[strategy_schema_name(name)]["properties"]
        assert set(properties) == set(strategy.option_names), name
        for option in strategy.options:
            schema = properties[option.name]
            assert schema.get("default") == option.default, (name, option.name)
            low = "exclusiveMinimum" if option.exclusive_minimum else "minimum"
            assert (schema.get(low), schema.get("maximum")) == (option.minimum, option.maximum)


@pytest.mark.parametrize("strategy,option,value", [
    (name, option.name, value) for name, strategy in STRATEGIES.items()
    for option in strategy.options for value in bad_values(option)])
def test_a_bad_strategy_option_is_refused_alike_by_the_cli_and_the_service(
        client, strategy, option, value):
    with pytest.raises(SpecError) as refused:
        cli_spec("--oracle", strategy, "--option", f"{option}={value}")
    response = post_search(client, oracle=strategy, oracle_options={option: value})
    assert response.status_code == 400
    assert response.json["error"] == str(refused.value)
    assert str(refused.value).startswith(f"oracle_options.{option}: ")
