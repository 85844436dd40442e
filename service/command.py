"""`evokt serve`: the service's subcommand, plugged into the `evokt` command line.

`pyproject.toml` registers `add_parser` in the entry-point group
`evokt.commands`; the library's command line finds it there, so the library
never imports the service. The service itself is imported only when the
command runs.
"""

from __future__ import annotations

import argparse
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
    serve.add_argument("--max-event-streams", type=int, default=128, metavar="N",
                       help="progress event streams each worker holds open at once, on "
                       "threads of their own; past it, 503 with Retry-After")
    serve.add_argument("--max-concurrent-searches", type=int, default=1, metavar="N",
                       help="searches run at once; the others wait as PENDING")
    serve.add_argument("--public-predict", action="store_true",
                       help="let predictions and model reads go without the token")


def run(args: argparse.Namespace) -> int:
    from evokt.service.serve import ServeOptions
    from evokt.service.serve import serve

    options = ServeOptions(
        host=args.host, port=args.port, data_dir=args.data_dir, workers=args.workers,
        threads=args.threads, max_event_streams=args.max_event_streams,
        max_concurrent_searches=args.max_concurrent_searches,
        public_predict=args.public_predict,
    )
    return serve(options, announce=lambda line: print(line, file=sys.stderr, flush=True))
