"""What every ``punchgate`` command shares: the gateway, JSON and table output, errors.

Commands print through these helpers so that every noun looks and fails the same way.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import click

from gateway.config import Settings


def open_gateway():
    """The gateway configured by the environment (PUNCHGATE_*)."""
    from gateway.state import Gateway

    return Gateway.from_settings(Settings.from_env())


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (dates and decimals as strings)."""
    click.echo(json.dumps(data, indent=2, default=str))


def fail(message: str) -> NoReturn:
    """Stop the command with a one-line error on stderr and exit status 1."""
    raise click.ClickException(message)


class Group(click.Group):
    """The ``punchgate`` group: configuration and database failures are one line, never a
    traceback (a wrong PUNCHGATE_DATABASE_URL, a database that is down or not migrated)."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

        from gateway.config import ConfigError
        from gateway.instance import StartupRefused, database_error

        try:
            return super().invoke(ctx)
        except (ConfigError, StartupRefused) as exc:
            fail(str(exc))
        except ProgrammingError as exc:
            fail(f"database not usable ({database_error(exc)}); run `punchgate db upgrade`?")
        except (OperationalError, DBAPIError) as exc:
            fail(f"database unreachable: {database_error(exc)} (check PUNCHGATE_DATABASE_URL)")


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
