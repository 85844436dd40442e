"""`Setting`: the one declaration of a search's option, and everything derived from it.

A setting is a field of `evokt.search.spec.SearchSpec` (`max_trials`,
`folds`, ...) or a keyword argument of a strategy's tuner
(`evokt.search.strategies`: `population_size`, ...). Its declaration holds
its name, type, default, range and meaning; from it come the check that
refuses a bad value (the same message from `evokt search` and from the
service), the command line's flag, the OpenAPI schema of the service's
request, the dashboard's defaults (it reads them from that schema) and the
README's tables of options. Free of TensorFlow, so requests are checked
without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from evokt.search.errors import SpecError

# The most configurations `initial_hps` may list.
MAX_INITIAL_HPS = 100

KINDS = ("int", "float", "bool", "string", "choice", "configurations")


@dataclass(frozen=True)
class Setting:
    """One option of a search, declared once.

    Args:
        name: The option's name (a `SearchSpec` field or a tuner argument).
        kind: One of `KINDS`: "int", "float", "bool", "string", "choice"
            (one of `choices`) or "configurations" (a list of objects of
            hyperparameter values).
        help: One line on what it does.
        default: The value used when the option is left out; None when it
            has none or depends on other options (then `default_text` says
            what it is).
        default_text: The default in words, when it is not a plain value.
        minimum: The smallest number allowed ("int" and "float").
        maximum: The largest number allowed ("int" and "float").
        exclusive_minimum: Whether `minimum` itself is excluded.
        choices: The allowed values of a "choice".
        metavar: The placeholder of its command-line flag.
        nullable: Whether None (JSON null) is allowed: "not set".
    """

    name: str
    kind: str
    help: str
    default: Any = None
    default_text: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Setting {self.name}: kind must be one of {KINDS}, got {self.kind}")

    def check(self, value: Any, prefix: str = "") -> None:
        """Raises SpecError, naming the option, unless `value` is allowed.

        Args:
            value: The value given.
            prefix: What the option's name is shown under (`oracle_options.`).
        """
        field = f"{prefix}{self.name}"
        if value is None and self.nullable:
            return
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"{field}: must be true or false, got {value!r}")
        elif self.kind == "string":
            if not isinstance(value, str):
                raise SpecError(f"{field}: must be a string, got {value!r}")
        elif self.kind == "choice":
            if value not in self.choices:
                raise SpecError(f"{field}: unknown {value!r}; choose {', '.join(self.choices)}")
        elif self.kind == "configurations":
            _check_configurations(field, value)
        else:
            self._check_number(field, value)

    def _check_number(self, field: str, value: Any) -> None:
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

    def default_words(self) -> str:
        """The default as the README and `--help` show it."""
        if self.default_text is not None:
            return self.default_text
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)

    def json_schema(self) -> dict[str, Any]:
        """The option's JSON Schema, as the OpenAPI document gives it."""
        schema: dict[str, Any] = {"description": self.help}
        if self.kind == "choice":
            schema["enum"] = [*self.choices, *([None] if self.nullable else [])]
        elif self.kind == "configurations":
            schema.update(type="array", maxItems=MAX_INITIAL_HPS, items={
                "type": "object", "additionalProperties": {
                    "type": ["string", "number", "boolean"]}})
        else:
            json_type = {"int": "integer", "float": "number", "bool": "boolean",
                         "string": "string"}[self.kind]
            schema["type"] = [json_type, "null"] if self.nullable else json_type
        if self.minimum is not None:
            schema["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        elif self.default_text is not None:
            schema["description"] += f" (default: {self.default_text})"
        return schema


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


def by_name(settings: tuple[Setting, ...]) -> dict[str, Setting]:
    """The settings by their names."""
    return {setting.name: setting for setting in settings}
