"""``punchgate agents``: support console accounts."""

from __future__ import annotations

import os

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
)


@click.group()
def agents() -> None:
    """Support console accounts.

    \b
    Examples:
      punchgate agents add you@supplier.example --role admin
      punchgate agents list --json
    """


@agents.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["agent", "admin"]), default="agent", show_default=True)
@click.option("--password-env", help="Read the password from this environment variable.")
def agents_add(email: str, role: str, password_env: str | None) -> None:
    """Create or update a support agent (the password is asked for).

    \b
    Example:
      punchgate agents add you@supplier.example --role admin
    """
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


def _agent_row(a) -> dict:
    return {
        "id": a.id,
        "email": a.email,
        "role": a.role,
        "created_at": a.created_at.isoformat(timespec="seconds"),
        "last_login_at": a.last_login_at.isoformat(timespec="seconds") if a.last_login_at else None,
    }


@agents.command("list")
@limit_option
@json_option
def agents_list(limit: int, as_json: bool) -> None:
    """Support agents and administrators.

    \b
    Example:
      punchgate agents list --json
    """
    from gateway.models import Agent

    with open_gateway().db.transaction() as db:
        rows = [_agent_row(a) for a in db.scalars(select(Agent).order_by(Agent.email).limit(limit))]
    echo_table(
        rows,
        [
            Column("ID", "id", right=True),
            Column("EMAIL", "email"),
            Column("ROLE", "role"),
            Column("LAST LOGIN", lambda r: r["last_login_at"] or "never"),
        ],
        empty="no agents (add one with: punchgate agents add EMAIL)",
        as_json=as_json,
    )


@agents.command("show")
@click.argument("email")
@json_option
def agents_show(email: str, as_json: bool) -> None:
    """One agent, by email.

    \b
    Example:
      punchgate agents show you@supplier.example
    """
    from gateway.models import Agent

    with open_gateway().db.transaction() as db:
        agent = db.scalar(select(Agent).where(Agent.email == email.strip().lower()))
        if agent is None:
            fail(f"no agent {email!r}")
        info = _agent_row(agent)
    if as_json:
        echo_json(info)
        return
    click.echo(
        f"agent {info['id']}  {info['email']}  {info['role']}  created {info['created_at']}  "
        f"last login {info['last_login_at'] or 'never'}"
    )
