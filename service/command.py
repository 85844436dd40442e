"""`evokt serve` and `evokt store`: the service's subcommands, plugged into the `evokt`
command line.

`pyproject.toml` registers `add_parser` and `add_store_parser` in the entry-point group
`evokt.commands`; the library's command line finds it there, so the library
never imports the service. The service itself is imported only when the
command runs.
"""

from __future__ import annotations

import argparse
import os
import sys


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds `evokt serve` to the `evokt` command line."""
    serve = commands.add_parser(
        "serve",
        help="run the REST service (gunicorn and the search runner)",
        description=(
            "Serve the REST API with gunicorn and run queued searches. Every endpoint "
            "but the health probes and /openapi.json needs 'Authorization: Bearer TOKEN'; "
            "the token is EVOKT_API_TOKEN, or is generated into DATA_DIR/api-token."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.set_defaults(run=run)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--data-dir", default="evokt-data", metavar="DIR",
                       help="job store, datasets, searches and models")
    serve.add_argument("--workers", type=int, default=2, metavar="N",
                       help="gunicorn worker processes")
    serve.add_argument("--threads", type=int, default=8, metavar="N",
                       help="request threads per worker")
    serve.add_argument("--max-event-streams", type=int, default=256, metavar="N",
                       help="progress event streams the service holds open at once, on "
                       "threads of their own; past it, 503 with Retry-After")
    serve.add_argument("--max-concurrent-searches", type=int, default=1, metavar="N",
                       help="searches run at once; the others wait as PENDING")
    serve.add_argument("--public-predict", action="store_true",
                       help="let predictions and model reads go without the token")


def run(args: argparse.Namespace) -> int:
    """Runs `evokt serve`; returns the exit status.

    Args:
        args: The parsed command line.
    """
    from evokt.service.serve import ServeOptions
    from evokt.service.serve import serve

    options = ServeOptions(
        host=args.host, port=args.port, data_dir=args.data_dir, workers=args.workers,
        threads=args.threads, max_event_streams=args.max_event_streams,
        max_concurrent_searches=args.max_concurrent_searches,
        public_predict=args.public_predict,
    )
    return serve(options, announce=lambda line: print(line, file=sys.stderr, flush=True))


def add_store_parser(commands: argparse._SubParsersAction) -> None:
    """Adds `evokt store check` and `evokt store rebuild` to the `evokt` command line."""
    store = commands.add_parser(
        "store",
        help="check the service's job store, or rebuild a damaged one",
        description=(
            "The job store (DATA_DIR/evokt.sqlite3) indexes what the data directory holds. "
            "'check' runs SQLite's integrity check; 'rebuild' moves a damaged store aside and "
            "builds a new one from the datasets, searches and model versions on disk (with "
            "the server stopped)."
        ),
    )
    store.set_defaults(run=run_store)
    store.add_argument("action", choices=["check", "rebuild"])
    store.add_argument("--force", action="store_true",
                       help="rebuild a store that the integrity check finds sound (searches "
                       "still pending are lost)")
    store.add_argument("--data-dir", default="evokt-data", metavar="DIR",
                       help="the service's data directory")


def run_store(args: argparse.Namespace) -> int:
    """Runs `evokt store check|rebuild`; returns the exit status.

    Args:
        args: The parsed command line (`action`, `data_dir`, `force`).
    """
    from evokt.service.layout import DataLayout
    from evokt.service.locks import hold_lock
    from evokt.service.recovery import rebuild_store
    from evokt.service.recovery import store_problems

    layout = DataLayout(args.data_dir)
    if not os.path.isdir(layout.root):
        print(f"evokt: error: no data directory {layout.root}", file=sys.stderr)
        return 2
    if args.action == "check":
        problems = store_problems(layout.root)
        for problem in problems:
            print(f"{layout.root}: {problem}")
        if not problems:
            print(f"{layout.root}: the job store is sound")
        return 1 if problems else 0
    lock = hold_lock(layout.serve_lock, f"the data directory {layout.root}")
    try:
        if not args.force and not store_problems(layout.root):
            print(f"evokt: error: the job store in {layout.root} is sound; a rebuild would lose "
                  "its pending searches (pass --force to rebuild it anyway)", file=sys.stderr)
            return 2
        rebuilt = rebuild_store(layout.root)
    finally:
        lock.close()
    if rebuilt.damaged_file:
        print(f"the old job store is kept as {rebuilt.damaged_file}")
    print(f"registered {len(rebuilt.datasets)} datasets, {len(rebuilt.versions)} model versions "
          f"and {len(rebuilt.searches)} searches "
          f"({sum(state == 'RUNNING' for state in rebuilt.searches.values())} resume when "
          "'evokt serve' starts)")
    for skipped in rebuilt.skipped:
        print(f"skipped {skipped}")
    return 0
