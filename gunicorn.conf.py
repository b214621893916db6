"""gunicorn settings for production: compose, the Dockerfile and `punchgate serve --production`.

    gunicorn -c gunicorn.conf.py wsgi:app

Every value can be changed with an environment variable (README, Operations).
"""

import os
import tempfile

# Prometheus' multiprocess mode: each worker writes its counters to files in this
# folder and a scrape adds them up. It must be set before prometheus_client is
# imported by this process or by any worker.
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="punchgate-metrics-")

from gateway.observability import gunicorn as hooks  # noqa: E402
from gateway.observability import logs  # noqa: E402

bind = os.environ.get("PUNCHGATE_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("PUNCHGATE_WORKERS", "2"))
threads = int(os.environ.get("PUNCHGATE_THREADS", "1"))
# A marketplace call may take up to PUNCHGATE_MARKETPLACE_TIMEOUT (10 s by default).
timeout = int(os.environ.get("PUNCHGATE_WORKER_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# The master imports the app once and forks each worker from it: a worker recycled
# below (or replaced after a crash) serves within milliseconds, with the master's
# caches and compiled code, instead of importing the app again (about 1 s of CPU,
# while the other workers carry the load alone); the code is shared copy-on-write.
# Code changes then need a restart, not a HUP. PUNCHGATE_PRELOAD=0 turns it off.
preload_app = os.environ.get("PUNCHGATE_PRELOAD", "1").lower() not in ("0", "false", "no")
if preload_app:
    os.environ[hooks.PRELOADED] = "1"
# Recycle workers now and then so that a slow leak never becomes an outage. Not often:
# while a worker is replaced the others carry its load alone, and at 5,000 requests (a
# recycle every 27 s per worker at 370 setups a second) those moments made the tail of
# the latency: setup p99 at half load on PostgreSQL 15-84 ms, 7.5-8.2 ms at 50,000.
max_requests = int(os.environ.get("PUNCHGATE_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10
# Behind a reverse proxy, the proxy's address (X-Forwarded-For, -Proto) is trusted.
forwarded_allow_ips = os.environ.get("PUNCHGATE_FORWARDED_ALLOW_IPS", "127.0.0.1")

# gunicorn 23+ opens a control socket in $HOME; instances sharing a host would share it.
control_socket_disable = True

logger_class = hooks.Logger
logconfig_dict = logs.logconfig(os.environ.get("PUNCHGATE_LOG_LEVEL", "INFO").upper())
# gunicorn's own access line duplicates the app's request line (punchgate.request):
# opt in with PUNCHGATE_ACCESS_LOG=1.
accesslog = (
    "-" if os.environ.get("PUNCHGATE_ACCESS_LOG", "0").lower() in ("1", "true", "yes") else None
)

on_starting = hooks.on_starting
when_ready = hooks.when_ready
post_fork = hooks.post_fork
child_exit = hooks.child_exit
if _own_metrics_dir:
    on_exit = hooks.remove_metrics_dir
