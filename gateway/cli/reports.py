"""``punchgate reports``: the support console's figures over months, computed ahead."""

from __future__ import annotations

import click

from gateway.cli.output import open_gateway


@click.group()
def reports() -> None:
    """Buyer health and adoption, computed ahead for the support console.

    \b
    Example:
      punchgate reports refresh            # from cron, every 5 minutes
    """


@reports.command("refresh")
def reports_refresh() -> None:
    """Compute buyer health and every buyer's adoption report now (run it from cron).

    The console reads these figures and says when they were computed; without a refresh
    a figure older than PUNCHGATE_REPORT_MAX_AGE seconds (900) is computed on the spot.

    \b
    Example:
      punchgate reports refresh
    """
    from gateway.support.reports import refresh

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        timings = refresh(db)
    for what, seconds in timings:
        click.echo(f"{what}: {seconds * 1000:.0f} ms")
