"""``punchgate orders``: orders taken from buyers."""

from __future__ import annotations

import click
from sqlalchemy import select

from gateway.cli.output import (
    echo_json,
    json_option,
    limit_option,
    open_gateway,
    require,
    since_option,
)


@click.group()
def orders() -> None:
    """Orders taken from buyers."""


@orders.command("list")
@click.option("--buyer", help="Buyer id.")
@since_option
@limit_option
@json_option
def orders_list(buyer, since, limit, as_json) -> None:
    """Orders handed to the marketplace, with their delivery state.

    \b
    Example:
      punchgate orders list --buyer acme --since 1d
    """
    from gateway.models import Buyer, Order, OutboxMessage

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        stmt = select(Order).order_by(Order.id.desc()).limit(limit)
        if buyer:
            require(db, Buyer, buyer, "buyer")
            stmt = stmt.where(Order.buyer_id == buyer)
        if since:
            stmt = stmt.where(Order.created_at >= since)
        rows = []
        for o in db.scalars(stmt):
            delivery = db.scalar(
                select(OutboxMessage).where(
                    OutboxMessage.order_pk == o.id, OutboxMessage.kind == "marketplace.order"
                )
            )
            rows.append(
                {
                    "id": o.id,
                    "buyer": o.buyer_id,
                    "order_id": o.order_id,
                    "version": o.version,
                    "type": o.type,
                    "status": o.status,
                    "session": o.session_id,
                    "lines": len(o.lines),
                    "total": None if o.total is None else str(o.total),
                    "currency": o.currency,
                    "flags": len(o.details.get("flags", [])),
                    "delivery": delivery.status if delivery else None,
                    "attempts": delivery.attempts if delivery else 0,
                }
            )
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
