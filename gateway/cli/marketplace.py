"""``punchgate marketplace``: move an order of the embedded marketplace along."""

from __future__ import annotations

import click

from gateway.cli.output import fail, open_gateway


@click.group()
def marketplace() -> None:
    """The embedded marketplace: move an order along its journey.

    \b
    Examples:
      punchgate marketplace confirm 12
      punchgate marketplace ship 12 --carrier UPS --tracking 1Z999
    """


def _marketplace_event(order_pk: int, kind: str, **details) -> None:
    import uuid

    from gateway.marketplace import events

    gateway = open_gateway()
    try:
        with gateway.db.transaction() as db:
            _, order = events.apply(
                db,
                {"event_id": f"cli-{uuid.uuid4()}", "type": kind, "order_id": order_pk, **details},
            )
            click.echo(f"order {order.id} ({order.order_id}) is now {order.status}")
    except events.WebhookError as exc:
        fail(exc.message)


@marketplace.command("confirm")
@click.argument("order", type=int)
def marketplace_confirm(order: int) -> None:
    """Confirm an order.

    \b
    Example:
      punchgate marketplace confirm 12
    """
    _marketplace_event(order, "confirmed")


@marketplace.command("ship")
@click.argument("order", type=int)
@click.option("--carrier", required=True)
@click.option("--tracking", "tracking_number", required=True)
def marketplace_ship(order: int, carrier: str, tracking_number: str) -> None:
    """Ship an order with a carrier and tracking number.

    \b
    Example:
      punchgate marketplace ship 12 --carrier UPS --tracking 1Z999
    """
    _marketplace_event(order, "shipped", carrier=carrier, tracking_number=tracking_number)


@marketplace.command("invoice")
@click.argument("order", type=int)
@click.option("--invoice-id", required=True)
def marketplace_invoice(order: int, invoice_id: str) -> None:
    """Invoice an order.

    \b
    Example:
      punchgate marketplace invoice 12 --invoice-id INV-2026-001
    """
    _marketplace_event(order, "invoiced", invoice_id=invoice_id)
