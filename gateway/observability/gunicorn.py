"""gunicorn hooks and logger used by gunicorn.conf.py.

The master checks the instance before any worker boots (schema current, keys
agree), keeps Prometheus' multiprocess files tidy, and can serve the metrics
on a private address. The access log is a JSON line without credentials.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gunicorn import glogging

from gateway.observability.logs import redact_path, redact_query, redact_text
from gateway.observability.web import redact_environ

# Set in the master once its startup checks passed: a worker then boots even while the
# database is briefly unreachable (wsgi.py) instead of stopping the whole server.
MASTER_CHECKED = "PUNCHGATE_STARTUP_CHECKED"
# Set by gunicorn.conf.py when the master loads wsgi.py before forking (preload_app).
PRELOADED = "PUNCHGATE_PRELOADED"


def refuse(message: str) -> None:
    """One line on stderr, then exit: what an operator sees when an instance will not start."""
    print(f"punchgate: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def on_starting(server) -> None:
    from gateway.config import ConfigError, Settings
    from gateway.instance import StartupRefused, check_startup
    from gateway.state import Gateway

    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    # Files of a previous run would be added to this run's counters.
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    try:
        gateway = Gateway.from_settings(Settings.from_env())
    except ConfigError as exc:
        refuse(str(exc))
    try:
        check_startup(gateway)
    except StartupRefused as exc:
        refuse(str(exc))
    finally:
        # Workers must not inherit the master's pooled connections.
        gateway.db.dispose()
    os.environ[MASTER_CHECKED] = "1"  # inherited by every worker forked from here on


def post_fork(server, worker) -> None:
    """A preloaded app's worker: the threads of the master's import did not cross the fork."""
    gateway = getattr(worker.app.wsgi(), "extensions", {}).get("punchgate")
    if server.cfg.preload_app and gateway is not None:
        gateway.db.start_checkpoints()


def when_ready(server) -> None:
    bind = os.environ.get("PUNCHGATE_METRICS_BIND")
    if not bind:
        return
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    from gateway.config import Settings
    from gateway.observability.metrics import OutboxCollector
    from gateway.state import Gateway

    host, _, port = bind.rpartition(":")
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(_Disposing(OutboxCollector(Gateway.from_settings(Settings.from_env()))))
    start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)
    server.log.info("metrics on http://%s/metrics", bind)


class _Disposing:
    """Collect, then close the master's connections: workers forked later share no socket."""

    def __init__(self, collector):
        self.collector = collector

    def collect(self):
        try:
            yield from self.collector.collect()
        finally:
            self.collector.gateway.db.dispose()


def remove_metrics_dir(server) -> None:
    """The temporary folder gunicorn.conf.py made for this run's counters."""
    import shutil

    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class Logger(glogging.Logger):
    """gunicorn's logger with a JSON access line: no query value that is a credential.

    The app's own line (punchgate.request) carries the same fields for every request it
    answers; this line is for operators who also want the requests gunicorn answered
    without the app (a malformed request line), at the cost of a second line for every
    request (about 8% of a setup request's CPU through gunicorn).
    """

    def access(self, resp, req, environ, request_time):
        # gunicorn enables its access line whenever a log configuration is given (ours
        # always is): only the ``accesslog`` setting (PUNCHGATE_ACCESS_LOG) turns it on.
        if not self.cfg.accesslog:
            return
        # The app blanked the environ already; a request it never saw (a 404
        # from gunicorn itself) is cleaned here.
        redact_environ(environ)
        headers = {k.lower(): v for k, v in resp.headers}
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        path = redact_path(environ.get("PATH_INFO", ""))
        self.access_log.info(
            "%s %s %s",
            environ.get("REQUEST_METHOD"),
            path,
            status,
            extra={
                "request_id": headers.get("x-request-id"),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "method": environ.get("REQUEST_METHOD"),
                "path": path,
                "query": redact_query(environ.get("QUERY_STRING", "")),
                "http_status": int(status),
                "bytes": getattr(resp, "sent", None),
                "latency_ms": round(request_time.total_seconds() * 1000, 1),
                "user_agent": redact_text(environ.get("HTTP_USER_AGENT", "")),
            },
        )
