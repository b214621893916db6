"""OCI catalog call with login (USERNAME/PASSWORD on every call) through gunicorn, 2 workers.

The call authenticates (Argon2id the first time, the per-process login cache after),
provisions the user, opens the session and redirects to the storefront. The floor,
in the same run: a bare Flask page under the same gunicorn. Prints both and the ratio
(target: gateway within 3x, i.e. ratio >= 33%).
Usage: .venv/bin/python -m benchmarks.oci_call [--seconds 10] [--database-url URL]
"""

from __future__ import annotations

import argparse
import functools
import random
from urllib.parse import urlencode

from benchmarks.common import closed_loop, free_port, get, percentile, start_gunicorn, stop
from benchmarks.setup_request import prepared


def gateway_path() -> str:
    user = random.randrange(1000)
    return "/oci/acme?" + urlencode(
        {
            "USERNAME": "acme_srm",
            "PASSWORD": "demo-acme-oci-password",
            "HOOK_URL": "http://127.0.0.1:9000/punchout/return",
            "~OkCode": "ADDI",
            "~TARGET": "_parent",
            "~CALLER": "CTLG",
            "email": f"user{user}@acme.example",
        }
    )


def floor_path() -> str:
    return "/page"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    database_url, env = prepared(args.database_url, "pg-bench-oci-")
    gw_port, floor_port = free_port(), free_port()
    gateway = start_gunicorn("wsgi:app", gw_port, env)
    floor = start_gunicorn("benchmarks.floor_app:app", floor_port, env)
    redirect = functools.partial(get, expect=302)
    try:
        closed_loop(gw_port, gateway_path, args.clients, 1, send=redirect)  # warm-up
        closed_loop(floor_port, floor_path, args.clients, 1, send=get)
        floor_rps, floor_lat = closed_loop(
            floor_port, floor_path, args.clients, args.seconds, send=get
        )
        gw_rps, gw_lat = closed_loop(
            gw_port, gateway_path, args.clients, args.seconds, send=redirect
        )
    finally:
        for proc in (gateway, floor):
            stop(proc)
    db = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(f"OCI catalog call with login via gunicorn, 2 workers, {db}, {args.clients} clients")
    print(
        f"  floor (bare Flask page):    {floor_rps:8.1f} req/s  "
        f"p50 {percentile(floor_lat, 50) * 1000:6.2f} ms"
    )
    print(
        f"  gateway (login + session):  {gw_rps:8.1f} req/s  "
        f"p50 {percentile(gw_lat, 50) * 1000:6.2f} ms"
    )
    print(f"  ratio gateway/floor:        {gw_rps / floor_rps:8.1%}   (target >= 33%, within 3x)")


if __name__ == "__main__":
    main()
