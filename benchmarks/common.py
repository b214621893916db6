"""Shared benchmark plumbing: servers on loopback, closed- and open-loop load."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(app: str, port: int, env: dict, workers: int = 2) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started here: gracefully, then for good (a loaded machine is slow)."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def call(port: int, method: str, path: str, body: bytes | None = None, headers=None):
    """One HTTP request on loopback: (status, Location header, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Location"), response.read()
    finally:
        conn.close()


def post(port: int, body: bytes) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/cxml", body, {"Content-Type": "text/xml"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status != 200 or b'code="200"' not in data:
        raise RuntimeError(f"unexpected answer: {response.status} {data[:300]!r}")
    return time.perf_counter() - started


def get(port: int, path: str, expect: int = 200) -> float:
    """One GET (no redirect followed); ``expect``: the status a correct answer has."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status != expect:
        raise RuntimeError(f"unexpected answer: {response.status} {data[:300]!r}")
    return time.perf_counter() - started


def _closed_worker(args):
    port, make_body, seconds, send = args
    latencies = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        latencies.append(send(port, make_body()))
    return latencies


def closed_loop(
    port: int, make_body, clients: int, seconds: float, send=post
) -> tuple[float, list[float]]:
    """Max throughput: ``clients`` processes each sending back to back.

    ``send(port, make_body())`` makes one request (a cXML POST unless told otherwise).
    """
    with multiprocessing.Pool(clients) as pool:
        started = time.perf_counter()
        results = pool.map(_closed_worker, [(port, make_body, seconds, send)] * clients)
        elapsed = time.perf_counter() - started
    latencies = [x for r in results for x in r]
    return len(latencies) / elapsed, latencies


def _open_worker(args):
    port, make_body, rate, seconds, offset = args
    interval = 1.0 / rate
    latencies = []
    start = time.perf_counter() + offset
    n = int(seconds * rate)
    for i in range(n):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        post(port, make_body())
        # Measured from the scheduled send time, so a stall counts against us.
        latencies.append(time.perf_counter() - scheduled)
    return latencies


def open_loop(port: int, make_body, rate: float, seconds: float, clients: int = 4) -> list[float]:
    """Fixed arrival rate split over ``clients`` processes."""
    per = rate / clients
    args = [(port, make_body, per, seconds, i / rate) for i in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        return [x for r in pool.map(_open_worker, args) for x in r]


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


def http_get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=5):
        pass
