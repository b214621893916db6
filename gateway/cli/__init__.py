"""The ``punchgate`` command (also ``python -m gateway``).

One module per noun; each defines its click group (or top-level commands) and this
module registers them. Output (table/JSON) and error handling are shared in
``output.py``. To add a noun: write ``gateway/cli/<noun>.py`` with a click group and
add one ``main.add_command`` line below.
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
    reports,
    requests,
    server,
    sessions,
    users,
)
from gateway.cli.output import PunchgateGroup


@click.group(cls=PunchgateGroup)
@click.version_option(package_name="punchgate", prog_name="punchgate")
def main() -> None:
    """Punchgate: punchout and procurement integration gateway.

    Exit codes: 0 success, 1 error (one line on stderr; PUNCHGATE_DEBUG=1 adds the
    traceback), 2 usage (a wrong option or value). Every list and show takes --json.

    \b
    Examples:
      punchgate buyers validate buyers.toml
      punchgate sessions list --buyer acme --since 2h
      eval "$(_PUNCHGATE_COMPLETE=bash_source punchgate)"   # shell completion
    """


main.add_command(db.db)
main.add_command(buyers.buyers)
buyers.buyers.add_command(check.check)
main.add_command(users.users)
main.add_command(users.roles)
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
main.add_command(reports.reports)
