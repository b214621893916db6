"""The ``punchgate`` command (also ``python -m gateway``).

One module per noun; each defines its click group (or top-level commands) and this
module registers them. Shared output and error handling live in ``output.py``.
To add a noun: write ``gateway/cli/<noun>.py`` and add one ``main.add_command`` line.
"""

from __future__ import annotations

import click

from gateway.cli import (
    agents,
    alerts,
    buyers,
    catalog,
    check,
    db,
    keys,
    marketplace,
    orders,
    outbox,
    replay,
    requests,
    server,
    sessions,
)


@click.group()
def main() -> None:
    """Punchgate: punchout and procurement integration gateway."""


main.add_command(db.db)
main.add_command(buyers.buyers)
buyers.buyers.add_command(check.check)
main.add_command(agents.agents)
main.add_command(keys.keys)
main.add_command(catalog.catalog)
main.add_command(server.serve)
main.add_command(server.demo)
main.add_command(replay.replay)
main.add_command(replay.simulate)
main.add_command(sessions.sessions)
main.add_command(outbox.outbox)
main.add_command(orders.orders)
main.add_command(marketplace.marketplace)
main.add_command(requests.requests)
main.add_command(alerts.alerts)
