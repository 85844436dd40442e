"""`evokt serve`: gunicorn and the search runner, started and stopped together.

Before anything starts, the data directory is locked (a second server on it
exits with a message), the settings and the API token are checked (an empty
or short token is refused), and the port is checked to be free. Gunicorn runs
`evokt.service.wsgi:app` with evokt's threaded worker (`evokt.service.http_worker`) and
without `preload_app`, so each worker imports TensorFlow after the fork; the
runner starts once gunicorn answers. Both are children that die with this
process (`evokt.supervisor`), even when it is killed with `kill -9`.
Ctrl-C or SIGTERM stops both; if the runner dies it is started again (its
RUNNING searches resume), and if gunicorn dies the whole service stops with
an error status. Everything it creates is readable by its owner only.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass

from evokt.service import config
from evokt.service.auth import resolve_token
from evokt.service.deletion import finish_deletions
from evokt.service.layout import DataLayout
from evokt.service.layout import remove_leftovers
from evokt.service.locks import hold_lock
from evokt.service.recovery import check_store
from evokt.service.store import JobStore
from evokt.service.tracking import check_tracking
from evokt.supervisor import RestartBudget
from evokt.supervisor import Supervisor
from evokt.supervisor import describe_exit

# Seconds each process gets to stop on SIGTERM before it is killed.
STOP_TIMEOUT = 30.0
# Seconds gunicorn gets to answer its first probe.
START_TIMEOUT = 120.0
# Runner restarts allowed within RESTART_WINDOW seconds before giving up.
MAX_RUNNER_RESTARTS = 5
RESTART_WINDOW = 60.0
# Connections waiting to be accepted (gunicorn's default is 2,048; the kernel caps it
# at net.core.somaxconn). A full backlog drops connects, a probe's among them, for a
# second or more (TCP's retransmission), so it gets room for a burst of connects.
LISTEN_BACKLOG = 4096


@dataclass
class ServeOptions:
    """How to run the service.

    Args:
        host: Address to listen on.
        port: Port to listen on.
        data_dir: The data directory.
        workers: Gunicorn worker processes.
        threads: Request threads per worker.
        max_event_streams: Event streams the service holds open at once (each
            worker has threads for all of them).
        max_concurrent_searches: Searches the runner runs at once.
        public_predict: Whether predictions and model reads need no token.

    Raises:
        evokt.service.config.ConfigError: A value out of range.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "evokt-data"
    workers: int = 2
    threads: int = 8
    max_event_streams: int = 256
    max_concurrent_searches: int = 1
    public_predict: bool = False

    def __post_init__(self) -> None:
        for name in ("workers", "threads", "max_event_streams", "max_concurrent_searches"):
            if getattr(self, name) < 1:
                raise config.ConfigError(
                    f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.port < 65536:
            raise config.ConfigError(f"--port must be from 1 to 65535, got {self.port}")


def gunicorn_command(options: ServeOptions) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--worker-class", "evokt.service.http_worker.EvoktWorker",
        "--workers", str(options.workers),
        # Request threads, plus the threads event streams may hold.
        "--threads", str(options.threads + options.max_event_streams),
        "--bind", f"{options.host}:{options.port}",
        "--backlog", str(LISTEN_BACKLOG),
        "--graceful-timeout", str(int(STOP_TIMEOUT)),
        # Several services may run side by side (tests, benchmarks).
        "--no-control-socket",
        "evokt.service.wsgi:app",
    ]


def _runner_command(options: ServeOptions) -> list[str]:
    return [
        sys.executable, "-m", "evokt.service.runner",
        "--data-dir", options.data_dir,
        "--max-concurrent-searches", str(options.max_concurrent_searches),
    ]


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise config.ConfigError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def _probe_url(options: ServeOptions) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(options.host, options.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{options.port}/v2/health/live"


def serve(options: ServeOptions, announce=print) -> int:
    """Runs the service until a signal or a fatal failure.

    Args:
        options: How to run it.
        announce: Where to say the token's whereabouts and the address.

    Returns:
        The exit status: 0 after Ctrl-C or SIGTERM, 1 if gunicorn died.

    Raises:
        evokt.service.locks.LockedError: Another server uses the data directory.
        evokt.service.config.ConfigError: Bad settings, an empty or short token, or
            a port in use.
    """
    os.umask(0o077)
    layout = DataLayout(options.data_dir)
    layout.create()
    options.data_dir = layout.root
    lock = hold_lock(layout.serve_lock, f"the data directory {layout.root}")
    try:
        settings = config.from_environment(os.environ)
        check_tracking(settings)
        _, token_source = resolve_token(settings.get("API_TOKEN"), layout.token_file)
        check_store(layout.root)  # a damaged store is refused in one line, saying what to do
        store = JobStore(layout.root)  # creates the schema once, before any worker starts
        finish_deletions(layout, store)  # of processes killed mid-deletion, if any
        store.close()
        remove_leftovers(layout)  # of processes killed mid-upload or mid-registration
        _check_port_free(options.host, options.port)
        env = dict(os.environ)
        env.update(EVOKT_DATA_DIR=layout.root,
                   EVOKT_PUBLIC_PREDICT="true" if options.public_predict else "false",
                   EVOKT_MAX_EVENT_STREAMS=str(options.max_event_streams),
                   EVOKT_WARM_MODELS="true")
        announce(f"API token: {token_source}")
        return _supervise(options, env, announce)
    finally:
        lock.close()


def _supervise(options: ServeOptions, env: dict[str, str], announce) -> int:
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set())
                for signum in (signal.SIGINT, signal.SIGTERM)}
    children = Supervisor()
    restarts = RestartBudget(MAX_RUNNER_RESTARTS, RESTART_WINDOW)
    try:
        children.start("web", gunicorn_command(options), env=env)
        if not _wait_for_web(children, _probe_url(options), stop):
            if stop.is_set():
                return 0
            announce("gunicorn did not start; stopping")
            return 1
        children.start("runner", _runner_command(options), env=env)
        announce(f"evokt serving on http://{options.host}:{options.port} "
                 f"(data in {options.data_dir}); Ctrl-C stops")
        while not stop.wait(0.5):
            for name, code in children.ended():
                if name == "web":
                    announce(f"gunicorn ended ({describe_exit(code)}); stopping")
                    return 1
                if not restarts.allow():
                    announce("the search runner keeps dying; stopping")
                    return 1
                announce(f"the search runner ended ({describe_exit(code)}); restarting it")
                children.start("runner", _runner_command(options), env=env)
        return 0
    finally:
        children.stop_all(STOP_TIMEOUT)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _wait_for_web(children: Supervisor, url: str, stop: threading.Event) -> bool:
    """Waits until gunicorn answers `url`; False if it died, or on a signal."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and not stop.is_set():
        if children.children["web"].poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        stop.wait(0.2)
    return False


def wait_until_ready(url: str, timeout: float, process=None) -> None:
    """Polls `url` until it answers 200; for tests and benchmarks.

    Raises:
        TimeoutError: It did not within `timeout` seconds, or `process` died.
    """
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
