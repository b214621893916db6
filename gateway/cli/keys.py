"""``punchgate keys``: encryption keys for secrets the gateway must send."""

from __future__ import annotations

import click
from sqlalchemy import select

from gateway.cli.output import fail, open_gateway


@click.group()
def keys() -> None:
    """Encryption keys for secrets the gateway must send.

    \b
    Example:
      PUNCHGATE_ENCRYPTION_KEYS=NEW,OLD punchgate keys rotate
    """


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the newest PUNCHGATE_ENCRYPTION_KEYS key.

    \b
    Example:
      PUNCHGATE_ENCRYPTION_KEYS=NEW,OLD punchgate keys rotate
    """
    from gateway.instance import StartupRefused, check_secret_key, record_encryption_keys
    from gateway.models import BuyerCredential

    gateway = open_gateway()
    count = 0
    with gateway.db.transaction() as db:
        try:
            check_secret_key(db, gateway)
        except StartupRefused as exc:
            fail(str(exc))
        # From now on instances must start with this key list (instance.check_keys).
        record_encryption_keys(db, gateway)
        for row in db.scalars(
            select(BuyerCredential).where(BuyerCredential.secret_encrypted.is_not(None))
        ):
            row.secret_encrypted = gateway.box.rotate(row.secret_encrypted)
            count += 1
    click.echo(
        f"re-encrypted {count} secret(s) under the newest key; restart every instance with "
        "this PUNCHGATE_ENCRYPTION_KEYS (instances with another list now refuse to start)"
    )
