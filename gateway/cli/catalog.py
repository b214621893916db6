"""``punchgate catalog``: the embedded marketplace catalog."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.output import fail, open_gateway


@click.group()
def catalog() -> None:
    """The embedded marketplace catalog."""


@catalog.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def catalog_load(path: Path) -> None:
    """Upsert products and buyer contract prices from a CSV file.

    \b
    Example:
      punchgate catalog load fixtures/demo/catalog.csv
    """
    from gateway.marketplace.catalog import CatalogError, load_catalog

    gateway = open_gateway()
    try:
        with gateway.db.transaction() as session:
            products, prices = load_catalog(session, path)
    except CatalogError as exc:
        fail(f"{path}: {exc}")
    click.echo(f"loaded {products} product(s) and {prices} contract price(s)")
