"""Child processes that die with their parent, and a supervisor that restarts them.

Every process evokt starts (a search's local workers, the service's gunicorn
and search runner, the runner's search processes) is started through
`Supervisor.start`. The child is launched through this module's own entry
point, `python -m evokt.supervisor PARENT_PID COMMAND...`, which asks Linux
to kill it when its parent dies (`PR_SET_PDEATHSIG`, kept across `exec`) and
then becomes COMMAND. So a parent killed with `kill -9` never leaves orphans
behind, and no Python code runs between `fork` and `exec` (unsafe in a
parent with threads, such as a gRPC chief). Elsewhere than Linux the
children are only stopped by their parent's own shutdown.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from evokt.clock import SYSTEM_CLOCK
from evokt.clock import Clock

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Asks Linux to SIGKILL this process when its parent dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


@dataclass
class RestartBudget:
    """At most `limit` restarts within `window` seconds (None: in all).

    Args:
        limit: Restarts allowed.
        window: Seconds a restart counts for; None counts them forever.
        clock: The clock restarts are timed with.
    """

    limit: int
    window: float | None = None
    clock: Clock = SYSTEM_CLOCK
    _restarts: list[float] = field(default_factory=list)

    def allow(self) -> bool:
        """Records a restart and says yes, or says no when the budget is spent."""
        now = self.clock.monotonic()
        if self.window is not None:
            self._restarts = [t for t in self._restarts if now - t < self.window]
        if len(self._restarts) >= self.limit:
            return False
        self._restarts.append(now)
        return True


def describe_exit(code: int) -> str:
    """An exit status in words: "exit status 1", "killed by SIGKILL"."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class Supervisor:
    """Named child processes that die with this one.

    Args:
        clock: Times the graceful stops.
    """

    def __init__(self, clock: Clock = SYSTEM_CLOCK):
        self.clock = clock
        self.children: dict[str, subprocess.Popen] = {}
        self._groups: set[str] = set()

    def start(
        self,
        name: str,
        command: Sequence[str],
        own_group: bool = False,
        **popen: Any,
    ) -> subprocess.Popen:
        """Starts `command` as the child `name`.

        Args:
            name: The child's name, unique among the running children.
            command: The program and its arguments.
            own_group: Start it in a process group of its own, so that
                `kill` and `stop` reach its children too.
            **popen: More arguments of `subprocess.Popen` (`env`, `stdout`,
                ...); standard input is closed.
        """
        child = subprocess.Popen(
            [sys.executable, "-m", "evokt.supervisor", str(os.getpid()), *command],
            stdin=subprocess.DEVNULL,
            start_new_session=own_group,
            **popen,
        )
        self.children[name] = child
        if own_group:
            self._groups.add(name)
        return child

    def ended(self) -> list[tuple[str, int]]:
        """Children that have exited since the last call, with their statuses."""
        ended = []
        for name, child in list(self.children.items()):
            code = child.poll()
            if code is not None:
                self._forget(name)
                ended.append((name, code))
        return ended

    def kill(self, name: str) -> None:
        """Kills a child (and its group) at once and waits for it."""
        child = self.children.get(name)
        if child is None:
            return
        self._signal(name, child, signal.SIGKILL)
        child.wait()
        self._forget(name)

    def stop(self, name: str, timeout: float) -> None:
        """Asks a child to stop (SIGTERM); kills it after `timeout` seconds."""
        child = self.children.get(name)
        if child is None:
            return
        if child.poll() is None:
            self._signal(name, child, signal.SIGTERM)
            self.wait(name, timeout)
        self.kill(name)

    def wait(self, name: str, timeout: float) -> int | None:
        """Waits up to `timeout` seconds for a child; its status, or None."""
        try:
            return self.children[name].wait(max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return None

    def stop_all(self, timeout: float) -> None:
        """Stops every child, all within `timeout` seconds."""
        deadline = self.clock.monotonic() + timeout
        for name, child in list(self.children.items()):
            if child.poll() is None:
                self._signal(name, child, signal.SIGTERM)
        for name in list(self.children):
            self.wait(name, deadline - self.clock.monotonic())
            self.kill(name)

    def _signal(self, name: str, child: subprocess.Popen, signum: int) -> None:
        try:
            if name in self._groups:
                os.killpg(child.pid, signum)
            else:
                child.send_signal(signum)
        except ProcessLookupError:
            pass

    def _forget(self, name: str) -> None:
        del self.children[name]
        self._groups.discard(name)


def main(argv: list[str]) -> None:
    """`python -m evokt.supervisor PARENT_PID COMMAND...`: becomes COMMAND,
    set to die with PARENT_PID."""
    parent, command = int(argv[0]), argv[1:]
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the signal was set
        sys.exit(1)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
