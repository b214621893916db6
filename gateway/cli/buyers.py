"""``punchgate buyers``: supplier and buyer connections."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.output import echo_json, fail, json_option, open_gateway


@click.group()
def buyers() -> None:
    """Supplier and buyer connections."""


@buyers.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def buyers_load(path: Path) -> None:
    """Upsert the supplier and buyers from a TOML file (idempotent)."""
    from provisioning.buyers import ConfigError, load_buyers

    gateway = open_gateway()
    try:
        with gateway.db.transaction() as session:
            ids = load_buyers(session, path, gateway.box)
    except ConfigError as exc:
        fail(f"{path}: {exc}")
    click.echo(f"loaded {len(ids)} buyer(s): {', '.join(ids) or '-'}")


@buyers.command("credentials")
@click.option(
    "--stale",
    is_flag=True,
    help="Only replaced secrets still in use, for support to call the buyer.",
)
@json_option
def buyers_credentials(stale: bool, as_json: bool) -> None:
    """Credentials per buyer: current, replaced (and until when), last used."""
    from provisioning.rotation import credential_report

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        rows = credential_report(db, stale_only=stale)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no stale credentials" if stale else "no credentials")
        return
    click.echo(f"{'BUYER':<12} {'KIND':<7} {'IDENTITY':<32} {'STATE':<34} LAST USED")
    for r in rows:
        click.echo(
            f"{r['buyer']:<12} {r['kind']:<7} {r['identity']:<32} {r['state']:<34} "
            f"{r['last_used_at'] or 'never'}"
        )
