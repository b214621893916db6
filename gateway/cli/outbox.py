"""``punchgate outbox``: reliable delivery of outbound messages."""

from __future__ import annotations

import contextlib

import click
from sqlalchemy import select

from gateway.cli.output import echo_json, json_option, open_gateway


@click.group()
def outbox() -> None:
    """Reliable delivery of outbound messages."""


@outbox.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--idle", default=1.0, show_default=True, help="Seconds to sleep when idle.")
def outbox_run(once: bool, idle: float) -> None:
    """Deliver pending messages (marketplace orders, cXML documents)."""
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


@outbox.command("list")
@click.option("--status", help="pending, sent or dead")
@json_option
def outbox_list(status, as_json) -> None:
    """Outbound messages, newest first."""
    from gateway.models import OutboxMessage

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)
        if status:
            stmt = stmt.where(OutboxMessage.status == status)
        rows = [
            {
                "id": m.id,
                "kind": m.kind,
                "status": m.status,
                "attempts": m.attempts,
                "key": m.idempotency_key,
                "last_error": m.last_error,
            }
            for m in db.scalars(stmt)
        ]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(
            f"{r['id']:>6}  {r['kind']:<20} {r['status']:<8} {r['attempts']:>3}  "
            f"{r['key']:<24} {r['last_error'] or ''}"
        )
