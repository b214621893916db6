"""``punchgate orders``: orders taken from buyers."""

from __future__ import annotations

import click

from gateway.cli.output import echo_json, fail, json_option, open_gateway, since_option
from gateway.support.orders import STATES


@click.group()
def orders() -> None:
    """Orders taken from buyers.

    \b
    Examples:
      punchgate orders list --buyer acme --status pending
      punchgate orders show 4500012345 --json
    """


def _buyer_or_fail(db, buyer: str | None) -> None:
    from gateway.models import Buyer

    if buyer and db.get(Buyer, buyer) is None:
        fail(f"no buyer {buyer!r}")


@orders.command("list")
@click.option("--buyer", help="Buyer id.")
@click.option("--status", type=click.Choice(STATES), help="Order status (pending: held).")
@click.option("--search", "q", help="orderID / PO number, payloadID or user email.")
@click.option("--flagged", is_flag=True, help="Only orders needing a look.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 1000))
@since_option
@json_option
def orders_list(buyer, status, q, flagged, limit, since, as_json) -> None:
    """Orders, those needing a look (flagged, rejected, held) first, with their delivery.

    \b
    Example:
      punchgate orders list --buyer acme --flagged --since 1d
    """
    from gateway.support import orders as service

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        _buyer_or_fail(db, buyer)
        f = service.OrderFilter(q=q, buyer=buyer, status=status, flagged_only=flagged)
        found, _ = service.list_orders(db, f, limit=limit)
        if since:
            found = [o for o in found if o.created_at >= since]
        info = service.page_details(db, found)
        rows = [service.order_row(o, info[o.id]) for o in found]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no orders")
        return
    click.echo(
        f"{'ID':>5}  {'BUYER':<10} {'ORDER':<14} {'V':>2} {'TYPE':<6} {'STATUS':<11} "
        f"{'LINES':>5} {'FLAGS':>5}  DELIVERY"
    )
    for r in rows:
        click.echo(
            f"{r['id']:>5}  {r['buyer']:<10} {r['order_id']:<14} {r['version']:>2} "
            f"{r['type']:<6} {r['status']:<11} {r['lines']:>5} {r['flags']:>5}  "
            f"{r['delivery'] or '-'} ({r['attempts']} attempt(s))"
        )


@orders.command("show")
@click.argument("key")
@click.option("--buyer", help="Buyer id, when several buyers used the same orderID.")
@json_option
def orders_show(key: str, buyer: str | None, as_json: bool) -> None:
    """One order by its orderID / PO number, payloadID or id: lines against the cart,
    flags, events, deliveries and the documents sent back to the buyer.

    \b
    Example:
      punchgate orders show 4500012345 --json
    """
    from gateway.support import orders as service

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        _buyer_or_fail(db, buyer)
        found = service.find_order(db, key, buyer)
        if not found:
            fail(f"no order {key!r}" + (f" from buyer {buyer!r}" if buyer else ""))
        views = [service.order_view(db, o) for o in found]
    if as_json:
        echo_json(views if len(views) > 1 else views[0])
        return
    for v in views:
        click.echo(
            f"order {v['order_id']} v{v['version']} ({v['type']}) from {v['buyer']}: "
            f"{v['status']}{' — ' + v['status_reason'] if v['status_reason'] else ''}"
        )
        click.echo(
            f"  #{v['id']}  payloadID {v['payload_id']}  total {v['total'] or '-'} "
            f"{v['currency'] or ''}  session {v['session'] or '-'}  user {v['user'] or '-'}"
        )
        click.echo("  lines:")
        for line in v["lines_detail"]:
            cart = (
                f"cart {line['cart_quantity']} x {line['cart_price']}"
                if line["cart_line"]
                else "not from a cart"
            )
            flags = "; ".join(f["kind"] for f in line["flags"])
            click.echo(
                f"    {line['line']:>3} {line['sku']:<14} {line['quantity']} x "
                f"{line['unit_price'] or '-'}  ({cart}){'  FLAG ' + flags if flags else ''}"
            )
        click.echo("  events:")
        for e in v["events"]:
            click.echo(f"    {e['at']}  {e['kind']:<22} {e['message']}")
        click.echo("  deliveries:")
        for d in v["deliveries"]:
            click.echo(
                f"    #{d['id']} {d['kind']:<24} {d['status']:<8} {d['attempts']} attempt(s)"
                f"{'  ' + d['last_error'] if d['last_error'] else ''}"
            )
        for doc in v["documents"]:
            click.echo(f"  document back to the buyer ({doc['kind']}, outbox #{doc['outbox']}):")
            click.echo(doc["document"] or "    (none)")
