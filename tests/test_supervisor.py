"""Child processes that die with their parent, and the restart budget."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from conftest import FakeClock
from service_helpers import process_gone

from evokt.supervisor import RestartBudget
from evokt.supervisor import Supervisor
from evokt.supervisor import describe_exit


def test_the_restart_budget_counts_restarts_within_its_window():
    clock = FakeClock()
    budget = RestartBudget(limit=2, window=60, clock=clock)
    assert budget.allow() and budget.allow()
    assert not budget.allow()  # a third within 60 s
    clock.advance(61)
    assert budget.allow()
    forever = RestartBudget(limit=1, clock=clock)
    assert forever.allow()
    clock.advance(10**6)
    assert not forever.allow()


def test_exit_statuses_in_words():
    assert describe_exit(0) == "exit status 0"
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"


def read_pid(path, writer: subprocess.Popen) -> int:
    """The pid `writer` writes into `path`, once it has."""
    deadline = time.monotonic() + 60
    while not (path.exists() and path.read_text()):
        assert writer.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return int(path.read_text())


def test_children_are_reaped_killed_with_their_group_and_named(tmp_path):
    supervisor = Supervisor()
    supervisor.start("quick", [sys.executable, "-c", "raise SystemExit(3)"])
    pid_file = tmp_path / "grandchild.pid"
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(600)
    """)
    group = supervisor.start("group", [sys.executable, "-c", script], own_group=True)
    assert supervisor.wait("quick", 30) == 3
    assert supervisor.ended() == [("quick", 3)]
    grandchild = read_pid(pid_file, group)
    supervisor.kill("group")
    assert process_gone(grandchild)  # the whole group went
    assert supervisor.children == {}


def test_a_child_dies_with_its_parent_even_after_kill_9(tmp_path):
    """The parent is a real process killed with SIGKILL: no chance to clean up."""
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from evokt.supervisor import Supervisor
        child = Supervisor().start(
            "sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(600)
    """)], cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child = read_pid(pid_file, parent)
    parent.kill()
    parent.wait()
    assert process_gone(child)
