"""Names a package exports but imports only when first used.

evokt's packages export classes whose modules import Keras or TensorFlow;
importing them on first use keeps `evokt --help` and the service's request
checks free of that cost.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A package's module-level `__getattr__` for its lazily imported names.

    Args:
        package: The package's name, for the error of an unknown name.
        exports: Each exported name -> the module that defines it.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__
