"""The floors of the code: each folder imports only the floors below it."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# folder -> evokt packages it must not import (the floors above it).
FORBIDDEN = {
    "hypermodels": ("tuner_ext", "service"),
    "tuner_ext": ("service",),
    "tuner_ext/oracles": ("tuner_ext.search", "service"),
}


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
                assert not module.startswith(FORBIDDEN[folder]), (
                    f"{os.path.relpath(path, ROOT)} imports {module}")
    assert checked > 3
