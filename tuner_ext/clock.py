"""Time, injected: where time decides behaviour, tests pass a clock they move.

Trial timeouts, the pacing of idle workers and the restarts of child
processes all read time through a `Clock`, as Optuna's samplers take their
randomness from an injected generator. Production code uses `SYSTEM_CLOCK`.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """The three readings of time evokt uses."""

    def time(self) -> float:
        """Seconds since the epoch; for timestamps that outlive a process."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start; for intervals within a process."""

    def sleep(self, seconds: float) -> None:
        """Waits `seconds`."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
