"""``punchgate sessions``: punchout sessions and their event logs."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from gateway.cli.output import (
    Column,
    echo_json,
    echo_table,
    fail,
    json_option,
    limit_option,
    open_gateway,
    require,
    since_option,
)
from gateway.cli.users import require_user
from gateway.support.queries import STATUSES, SessionFilter, line_counts, list_sessions


@click.group()
def sessions() -> None:
    """Punchout sessions and their event logs.

    \b
    Examples:
      punchgate sessions list --buyer acme --since 2h
      punchgate sessions show 42 --json
      punchgate sessions purge             # from cron, daily
    """


def _session_row(s, lines: int) -> dict:
    return {
        "id": s.id,
        "buyer": s.buyer_id,
        "user": (s.user.email or s.user.unique_name) if s.user else None,
        "protocol": s.protocol,
        "operation": s.operation,
        "status": s.state,
        "lines": lines,
        "created_at": s.created_at.isoformat(),
        "transferred_at": s.transferred_at.isoformat() if s.transferred_at else None,
    }


@sessions.command("list")
@click.option("--buyer", help="Buyer id.")
@click.option("--user", help="User email or unique name.")
@click.option("--status", type=click.Choice(STATUSES), help="Session state.")
@click.option("--protocol", type=click.Choice(["cxml", "oci"]))
@since_option
@limit_option
@json_option
def sessions_list(buyer, user, status, protocol, since, limit, as_json) -> None:
    """Punchout sessions, newest first (the same filters as the support console).

    \b
    Example:
      punchgate sessions list --buyer acme --status transferred --since 2h
    """
    from gateway.models import Buyer

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        if buyer:
            require(db, Buyer, buyer, "buyer")
        if user:
            require_user(db, user, buyer)
        found, _ = list_sessions(
            db,
            SessionFilter(
                buyer=buyer,
                user=user,
                status=status,
                protocol=protocol,
                day_from=since.date() if since else None,
            ),
            limit=limit,
        )
        # The filter takes days; the time of day is applied here (newest first, so
        # only the tail of the page can fall before it).
        found = [s for s in found if since is None or s.created_at >= since]
        lines = line_counts(db, found)
        rows = [_session_row(s, lines.get(s.id, 0)) for s in found]
    echo_table(
        rows,
        [
            Column("ID", "id", 6, right=True),
            Column("BUYER", "buyer", 14),
            Column("USER", "user", 28),
            Column("PROTO", "protocol", 5),
            Column("OP", "operation", 8),
            Column("STATUS", "status", 12),
            Column("LINES", "lines", 5, right=True),
            Column("CREATED", lambda r: r["created_at"][:19]),
        ],
        empty="no sessions",
        as_json=as_json,
    )


@sessions.command("export")
@click.argument("session_id", type=int)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def sessions_export(session_id: int, directory: Path) -> None:
    """Write a session's documents (secrets redacted) as a replayable fixture set.

    \b
    Example:
      punchgate sessions export 42 fixtures/acme-ticket-1234
    """
    from gateway.replay import export_session

    try:
        written = export_session(open_gateway(), session_id, directory)
    except ValueError as exc:
        fail(str(exc))
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"replay with: punchgate replay {directory}")


@sessions.command("show")
@click.argument("session_id", type=int)
@json_option
def sessions_show(session_id: int, as_json: bool) -> None:
    """One session: every event with its document, and the cart.

    \b
    Example:
      punchgate sessions show 42 --json
    """
    from gateway.models import Event, PunchoutSession
    from gateway.sessions.service import cart_view

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        s = require(db, PunchoutSession, session_id, "session")
        info = _session_row(s, len(s.lines))
        info.update(
            buyer_cookie=s.buyer_cookie,
            return_url=s.return_url,
            payload_id=s.payload_id,
            identity=s.details.get("identity"),
            cart=cart_view(s, show_prices=True),
        )
        events = [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "kind": e.kind,
                "level": e.level,
                "message": e.message,
                "data": e.data,
                "document": e.document,
                "request_id": e.request_id,
            }
            for e in db.scalars(select(Event).where(Event.session_id == s.id).order_by(Event.id))
        ]
    if as_json:
        echo_json({**info, "events": events})
        return
    click.echo(
        f"session {info['id']}  buyer {info['buyer']}  user {info['user'] or '-'}  "
        f"{info['protocol']}/{info['operation']}  {info['status']}"
    )
    click.echo(f"BuyerCookie {info['buyer_cookie']}  return {info['return_url'] or '-'}")
    click.echo("")
    click.echo("cart:")
    for item in info["cart"]["items"]:
        click.echo(
            f"  {item['quantity']:>6} x {item['sku']:<16} {item['unit_price']:>10} "
            f"{item['currency']}  {item['description']}"
        )
    click.echo(f"  total {info['cart']['total']} {info['cart']['currency'] or ''}")
    click.echo("")
    click.echo("events:")
    for e in events:
        click.echo(
            f"  {e['at'][:19]}  {e['level']:<7} {e['kind']:<18} {e['message']}"
            + (f"  [request {e['request_id']}]" if e["request_id"] else "")
        )
        if e["document"]:
            for line in e["document"].splitlines()[:200]:
                click.echo(f"      | {line}")


@sessions.command("purge")
@click.option(
    "--document-days", type=click.IntRange(0), help="Default: PUNCHGATE_SESSION_DOCUMENT_DAYS (90)."
)
@click.option(
    "--session-days", type=click.IntRange(0), help="Default: PUNCHGATE_SESSION_DAYS (365)."
)
def sessions_purge(document_days, session_days) -> None:
    """Apply the retention: clear old event documents, delete old sessions that led to no
    order (run it from cron; sessions an order came from are kept).

    \b
    Example:
      punchgate sessions purge --document-days 30
    """
    from gateway.sessions.retention import purge

    gateway = open_gateway()
    settings = gateway.settings
    document_days = settings.session_document_days if document_days is None else document_days
    session_days = settings.session_days if session_days is None else session_days
    if session_days < document_days:
        fail("--session-days must not be shorter than --document-days")
    cleared, deleted = purge(gateway.db, document_days, session_days)
    click.echo(
        f"cleared {cleared} event document(s) of sessions older than {document_days} days, "
        f"deleted {deleted} session(s) without an order older than {session_days} days"
    )
