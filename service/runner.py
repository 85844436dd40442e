"""The search runner: `python -m service.runner --data-dir DIR`.

It takes PENDING searches from the job store, oldest first, and runs each in
its own child process (`service.search_process`), at most
`max_concurrent` at a time. It kills the process of a search being
cancelled, marks searches whose process died as FAILED, and on start resumes
the searches a previous runner left RUNNING. Children die with the runner
(Linux's parent-death signal), so a killed runner never leaves a search
training twice.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Optional

from service.layout import DataLayout
from service.store import CANCELLED
from service.store import CANCELLING
from service.store import FAILED
from service.store import PENDING
from service.store import RUNNING
from service.store import JobStore
from tuner_ext.processes import die_with_parent

logger = logging.getLogger("evokt.runner")

def _log_tail(path: str, lines: int = 5) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            text = [line.strip() for line in file.readlines()[-200:] if line.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


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
        child_env: Optional[dict[str, str]] = None,
    ):
        if max_concurrent < 1:
            raise ValueError(f"`max_concurrent` must be at least 1, got {max_concurrent}.")
        self.layout = DataLayout(data_dir)
        self.store = JobStore(data_dir)
        self.max_concurrent = max_concurrent
        self.poll_seconds = poll_seconds
        self.child_env = {**os.environ, **(child_env or {})}
        self.children: dict[str, subprocess.Popen] = {}

    def _start(self, search_id: str) -> None:
        log_path = self.layout.log_file(search_id)
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "service.search_process", self.layout.root, search_id],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.child_env,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.children[search_id] = child
        self.store.set_state(search_id, RUNNING, expected=(RUNNING,), pid=child.pid)
        logger.info("search %s started (pid %d)", search_id, child.pid)

    def _kill(self, search_id: str) -> None:
        child = self.children.pop(search_id, None)
        if child is None:
            return
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()

    def _reap(self) -> None:
        for search_id, child in list(self.children.items()):
            code = child.poll()
            if code is None:
                continue
            del self.children[search_id]
            if code != 0:
                reason = _log_tail(self.layout.log_file(search_id)) or f"exit status {code}"
                self.store.set_state(
                    search_id, FAILED, expected=(RUNNING,),
                    error=f"the search process died: {reason}",
                )
            logger.info("search %s process ended with status %s", search_id, code)

    def step(self) -> None:
        """One round: reap, cancel, adopt orphans, start pending searches."""
        self._reap()
        for record in self.store.searches(CANCELLING):
            self._kill(record["id"])
            self.store.set_state(record["id"], CANCELLED, expected=(CANCELLING,))
            logger.info("search %s cancelled", record["id"])
        for record in self.store.searches(RUNNING):
            if record["id"] not in self.children:
                # Left RUNNING by a runner that died: resume it.
                self._start(record["id"])
        for record in self.store.searches(PENDING):
            if len(self.children) >= self.max_concurrent:
                break
            if self.store.set_state(record["id"], RUNNING, expected=(PENDING,),
                                    started=time.time()):
                self._start(record["id"])

    def run(self, stop: threading.Event) -> None:
        """Runs rounds until `stop` is set, then kills the running searches.

        Killed searches stay RUNNING in the store and resume on the next start.
        """
        while not stop.is_set():
            self.step()
            stop.wait(self.poll_seconds)
        for search_id in list(self.children):
            self._kill(search_id)


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Run the searches queued in a data directory.")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--max-concurrent-searches", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s evokt-runner %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    SearchRunner(args.data_dir, args.max_concurrent_searches).run(stop)


if __name__ == "__main__":
    main()
