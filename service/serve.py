"""`evokt serve`: gunicorn and the search runner, started and stopped together.

Gunicorn runs `service.wsgi:app` with `gthread` workers and without
`preload_app`, so each worker imports TensorFlow after the fork. The runner
is a separate process. Ctrl-C or SIGTERM stops both; if the runner dies it is
started again (its RUNNING searches resume), and if gunicorn dies the whole
service stops with an error status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Optional

from service.auth import load_or_create_token
from service.layout import DataLayout
from service.store import JobStore

# Seconds each process gets to stop on SIGTERM before it is killed.
STOP_TIMEOUT = 30.0
# Runner restarts allowed within RESTART_WINDOW seconds before giving up.
MAX_RUNNER_RESTARTS = 5
RESTART_WINDOW = 60.0


@dataclass
class ServeOptions:
    """How to run the service.

    Args:
        host: Address to listen on.
        port: Port to listen on.
        data_dir: The data directory.
        workers: Gunicorn worker processes.
        threads: Threads per worker.
        max_concurrent_searches: Searches the runner runs at once.
        public_predict: Whether predictions and model reads need no token.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "evokt-data"
    workers: int = 2
    threads: int = 8
    max_concurrent_searches: int = 1
    public_predict: bool = False

    def __post_init__(self) -> None:
        for name in ("workers", "threads", "max_concurrent_searches"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.port < 65536:
            raise ValueError(f"--port must be from 1 to 65535, got {self.port}")


def _gunicorn_command(options: ServeOptions) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--worker-class", "gthread",
        "--workers", str(options.workers),
        "--threads", str(options.threads),
        "--bind", f"{options.host}:{options.port}",
        # Event streams stay open as long as a search runs.
        "--timeout", "120",
        "--graceful-timeout", str(int(STOP_TIMEOUT)),
        # Several services may run side by side (tests, benchmarks).
        "--no-control-socket",
        "service.wsgi:app",
    ]


def _runner_command(options: ServeOptions) -> list[str]:
    return [
        sys.executable, "-m", "service.runner",
        "--data-dir", options.data_dir,
        "--max-concurrent-searches", str(options.max_concurrent_searches),
    ]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(options: ServeOptions, announce=print) -> int:
    """Runs the service until a signal or a fatal failure.

    Args:
        options: How to run it.
        announce: Where to say the token's whereabouts and the address.

    Returns:
        The exit status: 0 after Ctrl-C or SIGTERM, 1 if gunicorn died.
    """
    layout = DataLayout(options.data_dir)
    options.data_dir = layout.root
    JobStore(layout.root)  # creates the schema once, before any worker starts
    env = dict(os.environ)
    env.update(EVOKT_DATA_DIR=layout.root,
               EVOKT_PUBLIC_PREDICT="true" if options.public_predict else "false")
    if env.get("EVOKT_API_TOKEN"):
        announce("API token: taken from EVOKT_API_TOKEN")
    else:
        _, created = load_or_create_token(layout.token_file)
        verb = "generated and stored" if created else "read from"
        announce(f"API token: {verb} {layout.token_file} (readable by its owner only)")

    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set())
                for signum in (signal.SIGINT, signal.SIGTERM)}
    web = subprocess.Popen(_gunicorn_command(options), env=env)
    runner = subprocess.Popen(_runner_command(options), env=env)
    restarts: list[float] = []
    announce(f"evokt serving on http://{options.host}:{options.port} "
             f"(data in {layout.root}); Ctrl-C stops")
    status = 0
    try:
        while not stop.wait(0.5):
            if web.poll() is not None:
                announce(f"gunicorn exited with status {web.returncode}; stopping")
                status = 1
                break
            if runner.poll() is not None:
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < RESTART_WINDOW] + [now]
                if len(restarts) > MAX_RUNNER_RESTARTS:
                    announce("the search runner keeps dying; stopping")
                    status = 1
                    break
                announce(f"the search runner exited with status {runner.returncode}; restarting it")
                runner = subprocess.Popen(_runner_command(options), env=env)
    finally:
        _stop(runner)
        _stop(web)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status


def wait_until_ready(url: str, timeout: float, process: Optional[subprocess.Popen] = None) -> None:
    """Polls `url` until it answers 200; for tests and benchmarks.

    Raises:
        TimeoutError: It did not within `timeout` seconds, or `process` died.
    """
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise TimeoutError(f"the server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
