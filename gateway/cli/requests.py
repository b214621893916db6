"""``punchgate requests``: the request log (every inbound request, refused ones included)."""

from __future__ import annotations

import click

from gateway.cli.output import echo_json, fail, json_option, open_gateway
from gateway.support.requests import CHANNELS, DOC_TYPES


@click.group()
def requests() -> None:
    """The request log: what buyer systems and the marketplace sent, and the answers.

    \b
    Examples:
      punchgate requests list --failed --buyer acme --since 2h
      punchgate requests show 42 --json
      punchgate requests purge             # from cron, daily
    """


def _buyer_or_fail(db, buyer: str | None) -> None:
    from gateway.models import Buyer

    if buyer and db.get(Buyer, buyer) is None:
        fail(f"no buyer {buyer!r} is configured on this gateway")


def _moment(name: str, value: str | None):
    from gateway.support.requests import parse_since

    try:
        return parse_since(value) if value else None
    except ValueError as exc:
        fail(f"--{name}: {exc}")


@requests.command("list")
@click.option("--failed", is_flag=True, help="Only refused or failed requests.")
@click.option("--buyer", help="Buyer id.")
@click.option("--since", help="30m, 2h, 7d or an ISO date/time.")
@click.option("--until", help="An ISO date/time (or 2h: up to two hours ago).")
@click.option(
    "--type",
    "doc_type",
    type=click.Choice(DOC_TYPES),
    help="Document type (the console's choices; OCI functions and marketplace events: "
    "use --channel).",
)
@click.option("--channel", type=click.Choice(CHANNELS))
@click.option("--search", "q", help="A request id, payloadID or user email.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
def requests_list(failed, buyer, since, until, doc_type, channel, q, limit, as_json) -> None:
    """Requests, newest first (the console's filters).

    \b
    Example:
      punchgate requests list --failed --buyer acme --since 2h
    """
    from gateway.support.requests import RequestFilter, list_requests, request_row

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        _buyer_or_fail(db, buyer)
        f = RequestFilter(
            failed=failed,
            buyer=buyer,
            doc_type=doc_type,
            channel=channel,
            since=_moment("since", since),
            until=_moment("until", until),
            q=q,
        )
        rows = [request_row(r) for r in list_requests(db, f, limit=limit)[0]]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no requests")
        return
    click.echo(f"{'ID':>7}  {'TIME (UTC)':<19}  {'BUYER':<10} {'TYPE':<22} {'ANSWER':<14} REASON")
    for r in rows:
        answer = f"HTTP {r['http_status']}" + (f"/{r['cxml_code']}" if r["cxml_code"] else "")
        click.echo(
            f"{r['id']:>7}  {r['at'][:19].replace('T', ' '):<19}  {r['buyer'] or '-':<10} "
            f"{(r['type'] or '-')[:22]:<22} {answer:<14} "
            f"{(r['reason'] or 'OK')[:80] if r['failed'] else 'OK'}"
        )


@requests.command("show")
@click.argument("request_pk", type=click.IntRange(1, 2**31 - 1))
@json_option
def requests_show(request_pk: int, as_json: bool) -> None:
    """One request: the answer and why, the redacted document, what it led to.

    \b
    Example:
      punchgate requests show 42 --json
    """
    from gateway.support.requests import request_detail, request_view

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        detail = request_detail(db, request_pk)
        if detail is None:
            fail(f"no request {request_pk} in the request log (it may have been purged)")
        view = request_view(detail)
    if as_json:
        echo_json(view)
        return
    for key in (
        "at",
        "request_id",
        "channel",
        "path",
        "buyer",
        "sender",
        "user",
        "type",
        "payload_id",
        "http_status",
        "cxml_code",
        "reason",
        "latency_ms",
    ):
        click.echo(f"{key:>12}: {view[key] if view[key] is not None else '-'}")
    for s in view["sessions"]:
        click.echo(f"{'session':>12}: #{s['id']} ({s['status']})")
    for o in view["orders"]:
        click.echo(f"{'order':>12}: #{o['id']} {o['order_id']} ({o['status']})")
    click.echo("timeline:")
    for e in view["events"]:
        click.echo(f"  {e['at']}  {e['kind']:<22} {e['message']}")
    click.echo("document:")
    click.echo(view["document"] or "  (not kept)")


@requests.command("purge")
@click.option(
    "--document-days", type=click.IntRange(0), help="Default: PUNCHGATE_REQUEST_DOCUMENT_DAYS (30)."
)
@click.option(
    "--metadata-days",
    type=click.IntRange(0),
    help="Default: PUNCHGATE_REQUEST_METADATA_DAYS (180).",
)
def requests_purge(document_days, metadata_days) -> None:
    """Apply the retention: clear old documents, delete old rows (run it from cron).

    \b
    Example:
      punchgate requests purge
    """
    from gateway.support.requests import purge

    gateway = open_gateway()
    settings = gateway.settings
    document_days = settings.request_document_days if document_days is None else document_days
    metadata_days = settings.request_metadata_days if metadata_days is None else metadata_days
    if metadata_days < document_days:
        fail("--metadata-days must not be shorter than --document-days")
    with gateway.db.transaction() as db:
        cleared, deleted = purge(db, document_days, metadata_days)
    click.echo(
        f"cleared {cleared} document(s) older than {document_days} days, "
        f"deleted {deleted} request(s) older than {metadata_days} days"
    )
