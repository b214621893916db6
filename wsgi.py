"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

import sys

from gateway import create_app
from gateway.config import ConfigError
from gateway.instance import StartupRefused, check_startup

try:
    app = create_app()
    # gunicorn.conf.py checks once in the master; this covers a server started
    # without it, so that no instance ever serves with foreign keys or an old schema.
    check_startup(app.extensions["punchgate"])
except (ConfigError, StartupRefused) as exc:
    print(f"punchgate: {exc}", file=sys.stderr, flush=True)
    # gunicorn's "worker failed to boot": the master stops instead of retrying forever.
    sys.exit(3)
