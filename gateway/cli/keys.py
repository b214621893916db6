"""``punchgate keys``: encryption keys for secrets the gateway must send."""

from __future__ import annotations

import click
from sqlalchemy import select

from gateway.cli.output import open_gateway


@click.group()
def keys() -> None:
    """Encryption keys for secrets the gateway must send."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the newest PUNCHGATE_ENCRYPTION_KEYS key.

    \b
    Example:
      PUNCHGATE_ENCRYPTION_KEYS=NEW,OLD punchgate keys rotate
    """
    from gateway.models import BuyerCredential

    gateway = open_gateway()
    count = 0
    with gateway.db.transaction() as db:
        for row in db.scalars(
            select(BuyerCredential).where(BuyerCredential.secret_encrypted.is_not(None))
        ):
            row.secret_encrypted = gateway.box.rotate(row.secret_encrypted)
            count += 1
    click.echo(
        f"re-encrypted {count} secret(s) under the newest key; older keys can be "
        "removed from PUNCHGATE_ENCRYPTION_KEYS once every process has restarted"
    )
