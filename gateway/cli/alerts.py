"""``punchgate alerts``: what support should look at before the buyer calls."""

from __future__ import annotations

import click

from gateway.cli.output import echo_json, fail, json_option, limit_option, open_gateway, require
from gateway.support.alerts import KINDS


@click.group(invoke_without_command=True)
@click.option("--notify", is_flag=True, help="Same as `alerts list --notify`.")
@json_option
@click.pass_context
def alerts(ctx: click.Context, notify: bool, as_json: bool) -> None:
    """Alerts in force: failing punchouts, expiring secrets, dead deliveries, held or
    rejected orders, leaking or dropped carts. Without a verb: `alerts list`.

    \b
    Examples:
      punchgate alerts list --buyer acme
      punchgate alerts show punchouts_failing --json
      punchgate alerts --notify            # from cron: same as `alerts list --notify`
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(alerts_list, notify=notify, as_json=as_json)
    elif notify or as_json:
        raise click.UsageError(
            f"put --json and --notify after the verb: punchgate alerts {ctx.invoked_subcommand} "
            "--json",
            ctx,
        )


def _current(buyer: str | None = None, notify: bool = False) -> tuple[list, list]:
    """The alerts in force (of ``buyer``), and those ``notify`` queued for the webhook."""
    from gateway.models import Buyer
    from gateway.support import alerts as service

    gateway = open_gateway()
    thresholds = service.Thresholds.from_settings(gateway.settings)
    with gateway.db.transaction() as db:
        if buyer:
            require(db, Buyer, buyer, "buyer")
        found = service.current(db, thresholds)
        queued = service.notify(db, thresholds) if notify else []
    return [a for a in found if buyer is None or a.buyer == buyer], queued


def _echo(found: list, empty: str) -> None:
    if not found:
        click.echo(empty)
    for a in found:
        click.echo(f"{a.severity:<8} {a.kind:<18} {a.message}  [{a.key}]")


@alerts.command("list")
@click.option("--buyer", help="Only this buyer's alerts.")
@click.option(
    "--notify",
    is_flag=True,
    help="Queue new alerts (every buyer's) for PUNCHGATE_ALERT_WEBHOOK_URL.",
)
@limit_option
@json_option
def alerts_list(
    buyer: str | None = None, notify: bool = False, limit: int = 50, as_json: bool = False
) -> None:
    """Alerts in force, critical ones first. Exit status 0 either way (read the output).

    --notify (from cron, every few minutes) queues each new alert once; the outbox
    worker delivers it. It queues every buyer's alerts, so it takes no --buyer.

    \b
    Examples:
      punchgate alerts list --buyer acme --json
      punchgate alerts list --notify
    """
    if notify and buyer:
        raise click.UsageError("--notify queues every buyer's alerts; drop --buyer")
    found, queued = _current(buyer, notify)
    found = found[:limit]
    if as_json:
        echo_json([a.public() for a in found])
    else:
        _echo(found, f"no alerts for buyer {buyer}" if buyer else "no alerts")
    if notify:
        click.echo(f"{len(queued)} new alert(s) queued for the webhook", err=True)


@alerts.command("show")
@click.argument("key_or_kind")
@json_option
def alerts_show(key_or_kind: str, as_json: bool) -> None:
    """One alert in force by its key, or every alert of one kind.

    The key is the last column of `alerts list` (`key` in its JSON): one alert, an
    error once it is no longer in force. A kind gives a list, empty when none is in
    force. Kinds: punchouts_failing, deliveries_dead, secret_expiring, orders_held,
    orders_rejected, carts_leaking, carts_dropped.

    \b
    Examples:
      punchgate alerts show punchouts_failing:acme:1969920 --json
      punchgate alerts show orders_held
    """
    found, _ = _current()
    if key_or_kind in KINDS:
        of_kind = [a for a in found if a.kind == key_or_kind]
        if as_json:
            echo_json([a.public() for a in of_kind])
        else:
            _echo(of_kind, f"no {key_or_kind} alerts in force")
        return
    match = next((a for a in found if a.key == key_or_kind), None)
    if match is None:
        fail(
            f"no alert {key_or_kind!r} in force (a key from `punchgate alerts list`, "
            f"or a kind: {', '.join(KINDS)})"
        )
    if as_json:
        echo_json(match.public())
        return
    for name, value in match.public().items():
        click.echo(f"{name:>8}: {value if value is not None else '-'}")
