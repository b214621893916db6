"""How close to its floor an add to cart can get on this stack at all.

As ``setup_bound``, for ``storefront``'s add to cart (``POST /api/v1/punchout/cart/items``
on the JSON session API): the floor (``storefront_floor``: the same cart of 20 lines as
fixed JSON), the bound (``bound_app``: the floor plus what an add must read and write, on
the raw driver into the gateway's schema: the session by its token, the cart's lines, the
line's new quantity, the request-log row and one event, in one transaction, the answer
built from the lines read) and the gateway, one after the other under the same gunicorn,
closed loop. Every cart is first filled with every SKU the benchmark adds, through the
gateway, so each timed add raises a line's quantity.
Usage: .venv/bin/python -m benchmarks.cart_bound [--products 100000] [--seconds 10]
[--database-url URL]
"""

from __future__ import annotations

import argparse

from benchmarks import storefront
from benchmarks.common import call, closed_loop, free_port, start_gunicorn, stop
from benchmarks.setup_request import prepared


def _fill(port: int) -> None:
    for token in storefront.TOKENS:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for sku in storefront.SKUS:
            body = f'{{"sku": "{sku}", "quantity": 1}}'.encode()
            status, _, data = call(port, "POST", "/api/v1/punchout/cart/items", body, headers)
            if status != 200:
                raise RuntimeError(f"filling the carts: {status} {data[:200]!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    database_url, env = prepared(args.database_url, "pg-bench-cart-")
    storefront.load_products(args.products, env)
    apps = {
        "floor": "benchmarks.storefront_floor:app",
        "bound": "benchmarks.bound_app:app",
        "gateway": "wsgi:app",
    }
    ports = {name: free_port() for name in apps}
    procs = {name: start_gunicorn(app, ports[name], env) for name, app in apps.items()}
    rates = {}
    try:
        storefront.TOKENS.extend(
            storefront.open_session(ports["gateway"]) for _ in range(args.sessions)
        )
        _fill(ports["gateway"])
        send = storefront.add_to_cart
        for name in apps:  # warm-up
            closed_loop(ports[name], storefront.add_body, args.clients, 1, send=send)
        for name in apps:
            rates[name], _ = closed_loop(
                ports[name], storefront.add_body, args.clients, args.seconds, send=send
            )
    finally:
        for proc in procs.values():
            stop(proc)
    db = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(
        f"Add to cart (session API): floor, bound and gateway via gunicorn, 2 workers, {db}, "
        f"{args.products:,} products, {args.clients} clients, {args.seconds:.0f}s each"
    )
    labels = {
        "floor": "the same cart as fixed JSON",
        "bound": "floor + the reads and rows, raw driver",
        "gateway": "full add to cart",
    }
    for name, label in labels.items():
        line = f"  {name + ' (' + label + '):':50} {rates[name]:8.1f} req/s"
        if name != "floor":
            line += f"  {rates[name] / rates['floor']:6.1%} of the floor"
        if name == "gateway":
            line += f", {rates['gateway'] / rates['bound']:6.1%} of the bound"
        print(line)


if __name__ == "__main__":
    main()
