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

from benchmarks import storefront
from benchmarks.common import call, closed_loop
from benchmarks.setup_bound import NAMES, print_shares, servers
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
    args = storefront.arguments().parse_args()
    database_url, env = prepared(args.database_url, "pg-bench-cart-")
    storefront.load_products(args.products, env)
    rates = {}
    with servers("benchmarks.storefront_floor:app", env) as ports:
        storefront.TOKENS.extend(
            storefront.open_session(ports["gateway"]) for _ in range(args.sessions)
        )
        _fill(ports["gateway"])
        send = storefront.add_to_cart
        for name in NAMES:  # warm-up
            closed_loop(ports[name], storefront.add_body, args.clients, 1, send=send)
        for name in NAMES:
            rates[name], _ = closed_loop(
                ports[name], storefront.add_body, args.clients, args.seconds, send=send
            )
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
    print_shares(rates, labels, 50)


if __name__ == "__main__":
    main()
