"""Where an outbox delivery spends its time: SQL statements, transactions, cProfile.

One worker in process (``outbox.run_once`` until the queue is empty) delivering queued
marketplace orders to the receiver of ``outbox_delivery``, which runs in a process of its
own so that it does not share the worker's interpreter. Prints per message: statements,
transactions, the worker's CPU time, the time in claim / delivery / record, and Python
calls, then the profile. Usage: .venv/bin/python -m benchmarks.profile_outbox
[--messages 3000] [--database-url URL] [--top 25] [--sort tottime] [--no-profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import pstats
import time

from sqlalchemy import event

from benchmarks.outbox_delivery import Receiver, queue_orders
from benchmarks.setup_request import prepared


def _receive(queue) -> None:
    queue.put(Receiver().url)
    time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="cProfile order: cumulative, tottime")
    parser.add_argument("--no-profile", action="store_true", help="time without cProfile")
    args = parser.parse_args()
    n = args.messages
    url, env = prepared(args.database_url, "pg-bench-profile-outbox-")
    queue = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=_receive, args=(queue,), daemon=True)
    receiver.start()
    env["PUNCHGATE_MARKETPLACE_URL"] = queue.get(timeout=30)

    from gateway import outbox
    from gateway.config import Settings
    from gateway.state import Gateway

    gateway = Gateway.from_settings(Settings.from_env(env))
    with gateway.db.engine.begin() as conn:
        queue_orders(conn, n + 1, "profile")
    outbox.run_once(gateway, limit=1)  # warm-up: connections, statement caches
    counts = {"statements": 0, "transactions": 0}
    phases = {"claim": 0.0, "attempt": 0.0, "finish": 0.0}

    @event.listens_for(gateway.db.engine, "before_cursor_execute")
    def _statement(*_args):
        counts["statements"] += 1

    @event.listens_for(gateway.db.engine, "commit")
    def _commit(*_args):
        counts["transactions"] += 1

    def timed(name, function):
        def run(*a, **k):
            started = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                phases[name] += time.perf_counter() - started

        return run

    for name in phases:
        if hasattr(outbox, name):  # (an older worker has other names)
            setattr(outbox, name, timed(name, getattr(outbox, name)))
    profile = None if args.no_profile else cProfile.Profile()
    sent = 0
    started, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    while stats := outbox.run_once(gateway):  # its default batch
        sent += stats.sent
        if not (stats.sent or stats.retried or stats.dead):
            break
    if profile:
        profile.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    gateway.db.dispose()
    receiver.terminate()
    db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"Outbox, 1 worker in process, {db}: {sent} messages in {seconds:.2f} s")
    print(
        f"  per message: {counts['statements'] / sent:.3f} SQL statements, "
        f"{counts['transactions'] / sent:.3f} transactions, "
        f"worker CPU {cpu / sent * 1000:.3f} ms" + ("" if profile is None else " (under cProfile)")
    )
    print(
        "  wall time per message: "
        + ", ".join(f"{name} {total / sent * 1000:.3f} ms" for name, total in phases.items())
    )
    if profile:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        print(f"  Python calls per message: {stats.total_calls / sent:.0f}")
        if args.top:
            stats.sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())


if __name__ == "__main__":
    main()
