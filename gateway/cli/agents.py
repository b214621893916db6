"""``punchgate agents``: support console accounts."""

from __future__ import annotations

import os

import click

from gateway.cli.output import fail, open_gateway


@click.group()
def agents() -> None:
    """Support console accounts."""


@agents.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["agent", "admin"]), default="agent", show_default=True)
@click.option("--password-env", help="Read the password from this environment variable.")
def agents_add(email: str, role: str, password_env: str | None) -> None:
    """Create or update a support agent (the password is asked for)."""
    from gateway.support.accounts import add_agent

    if password_env:
        password = os.environ.get(password_env)
        if not password:
            fail(f"environment variable {password_env} is not set")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    gateway = open_gateway()
    try:
        with gateway.db.transaction() as db:
            agent = add_agent(db, gateway.box, email, password, role)
            click.echo(f"agent {agent.email} ({agent.role}) saved")
    except ValueError as exc:
        fail(str(exc))
