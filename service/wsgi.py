"""The WSGI entry point for gunicorn: `evokt.service.wsgi:app`.

Gunicorn imports this module in each worker after forking (evokt never sets
`preload_app`), so TensorFlow is only ever loaded in a worker, never in the
master before the fork.
"""

from evokt.service.app import create_app

app = create_app()
