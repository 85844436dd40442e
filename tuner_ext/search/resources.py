"""What a worker asks of a Ray cluster: `--worker-resources CPU=4,GPU=1`.

Free of Ray and TensorFlow, so a spec is checked without either.
"""

from __future__ import annotations

import math
import re

from evokt.search.errors import SpecError

# Ray's resource names: its own (CPU, GPU, memory) and a cluster's custom ones.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


def parse_resources(text: str) -> dict[str, float]:
    """`NAME=AMOUNT,...` as {name: amount}.

    Args:
        text: The resources, such as "CPU=4,GPU=1" or "CPU=0.5,accelerator=1".

    Raises:
        SpecError: Not of that form, a name twice, or an amount that is not a
            positive number (whole above 1: Ray takes fractions of one unit
            only).
    """
    resources: dict[str, float] = {}
    for item in text.split(","):
        name, separator, amount = item.strip().partition("=")
        if not separator or not _NAME.match(name):
            raise SpecError(f"worker_resources: expected NAME=AMOUNT[,NAME=AMOUNT...], "
                            f"such as CPU=4,GPU=1, got {text!r}")
        if name in resources:
            raise SpecError(f"worker_resources: {name} is given twice")
        try:
            value = float(amount)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0 or (value > 1 and not value.is_integer()):
            raise SpecError(f"worker_resources: {name} must be a positive number (a whole "
                            f"one above 1), got {amount!r}")
        resources[name] = value
    return resources


def threads_for(resources: dict[str, float]) -> int:
    """TensorFlow threads for a worker holding `resources`: its CPUs, at least one."""
    return max(1, int(resources.get("CPU", 1)))
