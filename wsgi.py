"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

import os
import sys

from gateway import create_app
from gateway.config import ConfigError
from gateway.instance import DatabaseUnreachable, StartupRefused, check_startup
from gateway.observability.gunicorn import MASTER_CHECKED, PRELOADED

try:
    app = create_app()
    # gunicorn.conf.py checks once in the master; this covers a server started
    # without it, so that no instance ever serves with foreign keys or an old schema.
    check_startup(app.extensions["punchgate"])
except DatabaseUnreachable as exc:
    if not os.environ.get(MASTER_CHECKED):
        print(f"punchgate: {exc}", file=sys.stderr, flush=True)
        sys.exit(3)
    # A worker (re)started during a database outage, after the master's checks passed:
    # exiting here would stop the master and every worker with it. Serve; requests answer
    # the transient 500 (and /readyz 503) until the database is back.
    print(f"punchgate: worker started while the {exc}", file=sys.stderr, flush=True)
except (ConfigError, StartupRefused) as exc:
    print(f"punchgate: {exc}", file=sys.stderr, flush=True)
    # gunicorn's "worker failed to boot": the master stops instead of retrying forever.
    sys.exit(3)

# gunicorn.conf.py loads this module once in the master and forks the workers from it
# (preload_app): no pooled connection may cross that fork, so the startup checks' go
# back; each process connects on its first request.
app.extensions["punchgate"].db.dispose()
if not os.environ.get(PRELOADED):
    # SQLite: WAL checkpoints from a thread of each worker, not inside a request's
    # commit (a preloaded app's workers start theirs after the fork: post_fork).
    app.extensions["punchgate"].db.start_checkpoints()
