"""``punchgate outbox``: reliable delivery of outbound messages."""

from __future__ import annotations

import contextlib

import click
from sqlalchemy import select

from gateway.cli.output import (
    Column,
    echo_json,
    echo_table,
    json_option,
    limit_option,
    open_gateway,
    require,
    since_option,
)


@click.group()
def outbox() -> None:
    """Reliable delivery of outbound messages.

    \b
    Examples:
      punchgate outbox list --status dead
      punchgate outbox run                 # the worker, as its own service
    """


@outbox.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--idle", default=1.0, show_default=True, help="Seconds to sleep when idle.")
def outbox_run(once: bool, idle: float) -> None:
    """Deliver pending messages (marketplace orders, cXML documents).

    \b
    Example:
      punchgate outbox run --once
    """
    from gateway import outbox as box
    from gateway.instance import check_startup

    gateway = open_gateway()
    # A worker with other keys could not decrypt what it must send.
    check_startup(gateway)
    if once:
        stats = box.run_once(gateway, limit=1000)
        click.echo(f"sent {stats.sent}, retry later {stats.retried}, dead {stats.dead}")
        return
    from gateway.observability import logs

    logs.configure()
    click.echo("outbox worker running (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        box.run_forever(gateway, idle)


def _message_row(m) -> dict:
    return {
        "id": m.id,
        "kind": m.kind,
        "status": m.status,
        "buyer": m.buyer_id,
        "order": m.order_pk,
        "attempts": m.attempts,
        "key": m.idempotency_key,
        "last_status": m.last_status,
        "last_error": m.last_error,
        "created_at": m.created_at.isoformat(timespec="seconds"),
        "next_attempt_at": m.next_attempt_at.isoformat(timespec="seconds"),
        "sent_at": m.sent_at.isoformat(timespec="seconds") if m.sent_at else None,
    }


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "dead"]))
@click.option("--buyer", help="Buyer id.")
@since_option
@limit_option
@json_option
def outbox_list(status, buyer, since, limit, as_json) -> None:
    """Outbound messages, newest first.

    \b
    Example:
      punchgate outbox list --status dead
    """
    from gateway.models import Buyer, OutboxMessage

    with open_gateway().db.transaction() as db:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(OutboxMessage.status == status)
        if buyer:
            require(db, Buyer, buyer, "buyer")
            stmt = stmt.where(OutboxMessage.buyer_id == buyer)
        if since:
            stmt = stmt.where(OutboxMessage.created_at >= since)
        rows = [_message_row(m) for m in db.scalars(stmt)]
    echo_table(
        rows,
        [
            Column("ID", "id", 6, right=True),
            Column("KIND", "kind", 20),
            Column("STATUS", "status", 8),
            Column("TRIES", "attempts", right=True),
            Column("KEY", "key", 24),
            Column("LAST ERROR", "last_error"),
        ],
        empty="no messages",
        as_json=as_json,
    )


@outbox.command("show")
@click.argument("message_id", type=int)
@json_option
def outbox_show(message_id: int, as_json: bool) -> None:
    """One outbound message with its payload (secrets are added only when sending).

    \b
    Example:
      punchgate outbox show 7
    """
    from gateway.models import OutboxMessage

    with open_gateway().db.transaction() as db:
        m = require(db, OutboxMessage, message_id, "outbox message")
        info = {**_message_row(m), "payload": m.payload}
    if as_json:
        echo_json(info)
        return
    click.echo(
        f"message {info['id']}  {info['kind']}  {info['status']}  buyer {info['buyer'] or '-'}"
        f"  order {info['order'] or '-'}"
    )
    click.echo(
        f"attempts {info['attempts']}  last HTTP {info['last_status'] or '-'}  "
        f"next {info['next_attempt_at']}  sent {info['sent_at'] or '-'}"
    )
    if info["last_error"]:
        click.echo(f"last error: {info['last_error']}")
    click.echo("")
    for line in info["payload"].splitlines()[:200]:
        click.echo(f"  | {line}")
