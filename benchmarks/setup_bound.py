"""How close to the floor a punchout setup (or, with ``--oci``, an OCI call) can get on
this stack at all.

Three servers under the same gunicorn (2 workers), measured one after the other in the
same run, closed loop: the floor (Flask + lxml parse, as ``setup_request``), the bound
(``bound_app``: the floor plus the rows every setup must store, on the raw driver, no
SQLAlchemy, no authentication or provisioning) and the gateway. The bound's share of the
floor is the most any implementation of the work could reach on this stack and machine;
the gateway's share of the bound is what is left to win in the gateway's own code. Then
p50 and p99 of all three at half the gateway's maximum load, as ``setup_request``. With
``--oci`` the three answer ``oci_call``'s catalog call: the floor is its bare page.
Usage: .venv/bin/python -m benchmarks.setup_bound [--seconds 10] [--database-url URL]
[--rounds 1] [--oci]
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.common import (
    closed_loop,
    free_port,
    get,
    open_loop,
    percentile,
    post,
    start_gunicorn,
    stop,
)
from benchmarks.oci_call import floor_path, gateway_path
from benchmarks.setup_request import make_body, prepared

NAMES = ("floor", "bound", "gateway")


@contextmanager
def servers(floor_app: str, env: dict) -> Iterator[dict[str, int]]:
    """The floor (``floor_app``), the bound and the gateway under gunicorn: their ports."""
    apps = dict(zip(NAMES, (floor_app, "benchmarks.bound_app:app", "wsgi:app"), strict=True))
    ports = {name: free_port() for name in NAMES}
    procs = []
    try:
        for name, app in apps.items():
            procs.append(start_gunicorn(app, ports[name], env))
        yield ports
    finally:
        for proc in procs:
            stop(proc)


def print_shares(rates: dict[str, float], labels: dict[str, str], width: int) -> None:
    """Each server's rate; the bound's and the gateway's share of the floor, and the
    gateway's of the bound."""
    for name, label in labels.items():
        line = f"  {name + ' (' + label + '):':{width}} {rates[name]:8.1f} req/s"
        if name != "floor":
            line += f"  {rates[name] / rates['floor']:6.1%} of the floor"
        if name == "gateway":
            line += f", {rates['gateway'] / rates['bound']:6.1%} of the bound"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=1, help="floor-bound-gateway repeated")
    parser.add_argument("--oci", action="store_true", help="an OCI catalog call, not a setup")
    args = parser.parse_args()
    if args.oci:
        redirect = functools.partial(get, expect=302)
        loads = {"floor": (floor_path, get), "bound": (gateway_path, redirect)}
        loads["gateway"] = loads["bound"]
        what = "OCI catalog call"
    else:
        loads = dict.fromkeys(NAMES, (make_body, post))
        what = "PunchOutSetupRequest"
    database_url, env = prepared(args.database_url, "pg-bench-bound-")
    rates: dict[str, list[float]] = {name: [] for name in NAMES}
    latencies = {}
    with servers("benchmarks.floor_app:app", env) as ports:
        for name in NAMES:  # warm-up: workers imported, pools open, the 1,000 users known
            make, send = loads[name]
            closed_loop(ports[name], make, args.clients, 2, send=send)
        for _ in range(args.rounds):
            for name in NAMES:
                make, send = loads[name]
                rps, _lat = closed_loop(ports[name], make, args.clients, args.seconds, send=send)
                rates[name].append(rps)
        half = sum(rates["gateway"]) / len(rates["gateway"]) / 2
        if not args.oci:  # p99 at half the gateway's load (setup_request's latency target)
            for name in NAMES:
                latencies[name] = open_loop(ports[name], make_body, half, args.seconds)
    mean = {name: sum(values) / len(values) for name, values in rates.items()}
    db = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(
        f"{what}: floor, bound and gateway via gunicorn, 2 workers, {db}, "
        f"{args.clients} clients, {args.rounds} x {args.seconds:.0f}s each"
    )
    labels = {
        "floor": "bare Flask page" if args.oci else "Flask + lxml parse",
        "bound": "floor + the rows, raw driver",
        "gateway": "full call" if args.oci else "full setup",
    }
    print_shares(mean, labels, 40)
    if latencies:
        print(f"  at half the gateway's maximum load ({half:.0f} req/s):")
        for name, values in latencies.items():
            print(
                f"    {name:8} p50 {percentile(values, 50) * 1000:6.2f} ms, "
                f"p99 {percentile(values, 99) * 1000:6.2f} ms"
            )


if __name__ == "__main__":
    main()
