"""The search runner: `python -m evokt.service.runner --data-dir DIR`.

It takes PENDING searches from the job store, oldest first, and runs each in
its own child process (`evokt.service.search_process`), at most `max_concurrent`
at a time. It kills the process of a search being cancelled, and starts
again, from where it stopped, a search whose process died without saying why
(killed, out of memory, a crash): KerasTuner's state resumes it, so it ends
with exactly its `max_trials` trials. After `MAX_SEARCH_RESTARTS` such deaths
the search is FAILED with one line saying how its process ended. On start it
resumes the searches a previous runner left RUNNING. Children die with the
runner (`evokt.supervisor`), so a killed runner never leaves a search
training twice, and one runner at most runs per data directory.

A full disk or a job store that cannot be written does not kill it: a search
that paused for space (`EXIT_PAUSED`) stays RUNNING, its `error` saying why,
and starts again once the disk has `EVOKT_MIN_FREE_BYTES` free, without
counting as a death; a round that fails on the job store is logged and tried
again at the next poll.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sqlite3
import sys
import threading
import time

from evokt.service import config
from evokt.service.disk import EXIT_PAUSED
from evokt.service.disk import low_space
from evokt.service.layout import DataLayout
from evokt.service.locks import LockedError
from evokt.service.locks import hold_lock
from evokt.service.recovery import record_ending
from evokt.service.store import CANCELLED
from evokt.service.store import CANCELLING
from evokt.service.store import FAILED
from evokt.service.store import PENDING
from evokt.service.store import RUNNING
from evokt.service.store import JobStore
from evokt.supervisor import Supervisor
from evokt.supervisor import describe_exit

logger = logging.getLogger("evokt.runner")

# Deaths of one search's process after which it is FAILED instead of restarted.
MAX_SEARCH_RESTARTS = 3
# Seconds a search that paused for disk space waits before it is started again.
PAUSE_SECONDS = 10.0
# How a paused search's `error` begins.
PAUSED = "paused until the disk has room:"
# A Python exception's closing line in a log: "SomeError: what happened".
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit): .+")


def last_error_line(path: str) -> str | None:
    """The last Python exception line of a search's log, if there is one."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.readlines()[-500:]
    except OSError:
        return None
    errors = [line.strip() for line in lines if _EXCEPTION_LINE.match(line.strip())]
    return errors[-1][:500] if errors else None


class SearchRunner:
    """Runs the job store's searches in child processes.

    Args:
        data_dir: The service's data directory.
        max_concurrent: Searches running at once.
        poll_seconds: Seconds between two looks at the job store.
        child_env: Extra environment for the search processes.
    """

    def __init__(
        self,
        data_dir: str,
        max_concurrent: int = 1,
        poll_seconds: float = 0.5,
        child_env: dict[str, str] | None = None,
    ):
        if max_concurrent < 1:
            raise ValueError(f"`max_concurrent` must be at least 1, got {max_concurrent}.")
        self.layout = DataLayout(data_dir)
        self.store = JobStore(self.layout.root)
        self.max_concurrent = max_concurrent
        self.poll_seconds = poll_seconds
        self.child_env = {**os.environ, **(child_env or {})}
        self.min_free_bytes = config.setting("MIN_FREE_BYTES", self.child_env)
        self.searches = Supervisor()
        self._last_failure: str | None = None
        # Search id -> when a search that paused for space may start again.
        self._paused_until: dict[str, float] = {}

    def _start(self, search_id: str) -> None:
        log_path = self.layout.log_file(search_id)
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "ab") as log:
            child = self.searches.start(
                search_id,
                [sys.executable, "-m", "evokt.service.search_process", self.layout.root, search_id],
                own_group=True,
                stdout=log,
                stderr=log,
                env=self.child_env,
            )
        self.store.set_state(search_id, RUNNING, expected=(RUNNING,), pid=child.pid, error=None)
        logger.info("search %s started (pid %d)", search_id, child.pid)

    def _pause(self, record: dict, reason: str) -> None:
        """Leaves a RUNNING search without a process until there is disk space."""
        message = f"{PAUSED} {reason}"
        if not (record["error"] or "").startswith(PAUSED):  # once: the free bytes change
            logger.info("search %s paused: %s", record["id"], reason)
            self.store.set_state(record["id"], RUNNING, expected=(RUNNING,), error=message)

    def _reap(self) -> None:
        for search_id, code in self.searches.ended():
            logger.info("search %s process ended: %s", search_id, describe_exit(code))
            if code == EXIT_PAUSED:
                # A write failed for space even above the floor: give the disk time.
                self._paused_until[search_id] = time.monotonic() + PAUSE_SECONDS
            record = self.store.search(search_id)
            if code in (0, EXIT_PAUSED) or record is None or record["state"] != RUNNING:
                # It finished, recorded why it failed, was cancelled, or paused
                # for disk space (the loop in `step` starts it again when there is).
                continue
            # Died without saying why: start it again (the loop in `step`
            # resumes RUNNING searches without a process), a few times.
            if record["restarts"] < MAX_SEARCH_RESTARTS:
                self.store.set_state(search_id, RUNNING, expected=(RUNNING,),
                                     restarts=record["restarts"] + 1)
                continue
            cause = last_error_line(self.layout.log_file(search_id))
            error = (f"the search process died {record['restarts'] + 1} times; last "
                     f"{describe_exit(code)}" + (f" ({cause})" if cause else ""))
            self.store.set_state(search_id, FAILED, expected=(RUNNING,), error=error)
            record_ending(self.layout, search_id, FAILED, error)

    def step(self) -> None:
        """One round: reap, cancel, resume orphans, start pending searches."""
        self._reap()
        for record in self.store.searches(CANCELLING):
            self.searches.kill(record["id"])
            self.store.set_state(record["id"], CANCELLED, expected=(CANCELLING,))
            record_ending(self.layout, record["id"], CANCELLED, None)
            logger.info("search %s cancelled", record["id"])
        low_space_reason = low_space(self.layout.root, self.min_free_bytes)
        for record in self.store.searches(RUNNING):
            if record["id"] not in self.searches.children:
                # Left RUNNING by a runner or a process that died, or paused
                # for disk space: resume it, once there is room.
                if low_space_reason is not None:
                    self._pause(record, low_space_reason)
                elif self._paused_until.get(record["id"], 0) <= time.monotonic():
                    self._paused_until.pop(record["id"], None)
                    self._start(record["id"])
        for record in self.store.searches(PENDING):
            if len(self.searches.children) >= self.max_concurrent or low_space_reason:
                break
            if self.store.set_state(record["id"], RUNNING, expected=(PENDING,),
                                    started=time.time()):
                self._start(record["id"])

    def run(self, stop: threading.Event) -> None:
        """Runs rounds until `stop` is set, then kills the running searches.

        Killed searches stay RUNNING in the store and resume on the next start.
        """
        while not stop.is_set():
            try:
                self.step()
                self._last_failure = None
            except (sqlite3.Error, OSError) as error:
                # A full disk or a damaged job store: the next round tries again.
                if str(error) != self._last_failure:
                    logger.error("a round of the runner failed, retrying: %s", error)
                    self._last_failure = str(error)
            stop.wait(self.poll_seconds)
        for search_id in list(self.searches.children):
            self.searches.kill(search_id)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the searches queued in a data directory.")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--max-concurrent-searches", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s evokt-runner %(message)s")
    try:
        lock = hold_lock(DataLayout(args.data_dir).runner_lock, f"{args.data_dir}'s runner lock")
    except LockedError as error:
        sys.exit(f"evokt-runner: {error}")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        SearchRunner(args.data_dir, args.max_concurrent_searches).run(stop)
    finally:
        lock.close()


if __name__ == "__main__":
    main()
