"""``punchgate alerts``: what support should look at before the buyer calls."""

from __future__ import annotations

import click

from gateway.cli.output import echo_json, json_option, open_gateway


@click.command()
@click.option("--notify", is_flag=True, help="Queue new alerts for PUNCHGATE_ALERT_WEBHOOK_URL.")
@json_option
def alerts(notify: bool, as_json: bool) -> None:
    """Alerts in force: failing punchouts, expiring secrets, dead deliveries, held or
    rejected orders, leaking carts. Exit status 0 either way (read the output).

    \b
    Example:
      punchgate alerts --json
    """
    from gateway.support import alerts as service

    gateway = open_gateway()
    thresholds = service.Thresholds.from_settings(gateway.settings)
    with gateway.db.transaction() as db:
        found = service.current(db, thresholds)
        queued = service.notify(db, thresholds) if notify else []
    if as_json:
        echo_json([a.public() for a in found])
    elif not found:
        click.echo("no alerts")
    else:
        for a in found:
            click.echo(f"{a.severity:<8} {a.kind:<18} {a.message}")
    if notify:
        click.echo(f"{len(queued)} new alert(s) queued for the webhook", err=True)
