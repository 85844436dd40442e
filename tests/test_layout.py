"""The floors of the code: each folder imports only the floors below it."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# folder -> the evokt modules it must not import (the floors above it), and
# the package it is installed as. `evokt` alone is the public API at the top,
# which imports every floor.
FORBIDDEN = {
    "hypermodels": (("evokt",), "evokt.hypermodels"),
    "tuner_ext": (("evokt.service",), "evokt"),
    "tuner_ext/oracles": (("evokt.search", "evokt.service"), "evokt.oracles"),
    "tuner_ext/chief": (("evokt.oracles", "evokt.search", "evokt.service"), "evokt.chief"),
}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def is_forbidden(module: str, folder: str) -> bool:
    """Whether `folder`'s modules may not import `module`: it is in a floor
    above, and not in the folder's own package below that floor."""
    above, own = FORBIDDEN[folder]
    return any(within(module, floor) and not (within(own, floor) and within(module, own))
               for floor in above)


def test_the_floors_rule_tells_a_floor_above_from_the_folders_own_package():
    assert is_forbidden("evokt.service.app", "tuner_ext")
    assert not is_forbidden("evokt.hypermodels.data", "tuner_ext")
    assert is_forbidden("evokt", "hypermodels") and is_forbidden("evokt.oracles", "hypermodels")
    assert not is_forbidden("evokt.hypermodels.base", "hypermodels")
    assert is_forbidden("evokt.search.spec", "tuner_ext/oracles")
    assert not is_forbidden("evokt.clock", "tuner_ext/oracles")


def imported_modules(path: str) -> set[str]:
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read(), path)
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("folder", list(FORBIDDEN))
def test_no_module_imports_a_floor_above_its_own(folder):
    checked = 0
    for directory, _, files in os.walk(os.path.join(ROOT, folder)):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            checked += 1
            for module in imported_modules(path):
                assert not is_forbidden(module, folder), (
                    f"{os.path.relpath(path, ROOT)} imports {module}")
    assert checked > 3
