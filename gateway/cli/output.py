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


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
