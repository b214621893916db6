"""``punchgate db``: the database schema."""

from __future__ import annotations

import click

from gateway.config import database_url_from_env


@click.group()
def db() -> None:
    """Database schema.

    \b
    Example:
      punchgate db upgrade
    """


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations (SQLite or PostgreSQL).

    \b
    Example:
      PUNCHGATE_DATABASE_URL=postgresql+psycopg://gw@db/gw punchgate db upgrade
    """
    from gateway.migrate import upgrade

    # Only the URL: a migration needs no keys (compose's migrate service has none to spare).
    upgrade(database_url_from_env(), revision)
    click.echo(f"database at {revision}")
