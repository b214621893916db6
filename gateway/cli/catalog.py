"""``punchgate catalog``: load catalog files (CSV, CIF 3.0, BMEcat 2005) and export them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.cli.output import (
    Column,
    echo_table,
    fail,
    json_option,
    open_gateway,
    require,
)


@click.group()
def catalog() -> None:
    """Products and prices: load files, export for hosted catalogs.

    \b
    Examples:
      punchgate catalog load catalog.csv
      punchgate catalog export --format cif --buyer acme -o acme.cif
      punchgate catalog search "safety glove" --buyer acme
    """


@catalog.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "format_", type=click.Choice(["csv", "cif", "bmecat"]))
@click.option("--buyer", help="The file's prices are this buyer's contract prices.")
@click.option("--replace", is_flag=True, help="Retire products the file does not list.")
@click.option("--encoding", help="The file's encoding (default: detected).")
@click.option("--skip-bad", is_flag=True, help="Load the good rows, report the bad ones.")
def catalog_load(path, format_, buyer, replace, encoding, skip_bad) -> None:
    """Load a catalog file (format guessed from its content unless given).

    \b
    Example:
      punchgate catalog load fixtures/demo/catalog.csv
    """
    from gateway.catalog.loader import CatalogError, load, read_path, refresh_statistics

    gateway = open_gateway()
    try:
        parsed = read_path(path, format_, encoding)
        # The bar shows on a terminal only; pipes and logs stay quiet.
        with (
            click.progressbar(
                length=len(parsed.rows),
                label=f"{path.name}: checking",
                file=sys.stderr,
                hidden=not sys.stderr.isatty(),
            ) as bar,
            gateway.db.transaction() as session,
        ):
            summary = load(
                session,
                parsed,
                buyer_id=buyer,
                replace=replace,
                skip_bad=skip_bad,
                progress=bar.update,
            )
    except CatalogError as exc:
        fail(f"{path}: {exc}")
    if summary.added or summary.changed or summary.retired:
        refresh_statistics(gateway.db.engine)
    for error in summary.errors:
        click.echo(f"skipped: {error}", err=True)
    click.echo(f"{path.name} ({summary.encoding}): {summary}")


@catalog.command("export")
@click.option("--format", "format_", type=click.Choice(["cif", "jaggaer-csv"]), required=True)
@click.option("--buyer", required=True, help="Prices and identity for this buyer.")
@click.option("--test", is_flag=True, help="The supplier's test identity (Ariba: ANID-T).")
@click.option("--level2", is_flag=True, help="Add each item's punchout URL (Level 2).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def catalog_export(format_, buyer, test, level2, output) -> None:
    """Write the catalog for a buyer who hosts it (Ariba CIF 3.0, Jaggaer CSV).

    \b
    Example:
      punchgate catalog export --format cif --buyer acme --level2 -o acme.cif
    """
    from gateway.catalog import export

    gateway = open_gateway()
    url = gateway.settings.base_url.rstrip("/") + "/cxml"
    warnings: list[str] = []
    try:
        with gateway.db.transaction() as session:
            if format_ == "cif":
                text = export.cif(
                    session, buyer, test=test, level2=level2, punchout_url=url, warnings=warnings
                )
            else:
                text = export.jaggaer_csv(
                    session, buyer, level2=level2, punchout_url=url, warnings=warnings
                )
    except export.ExportError as exc:
        fail(str(exc))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if output:
        output.write_text(text, encoding="utf-8", newline="")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@catalog.command("search")
@click.argument("query")
@click.option("--buyer", required=True, help="Prices (contract prices) for this buyer.")
@click.option("--category", help="Only this category.")
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, 1000), help="At most N rows."
)
@json_option
def catalog_search(query, buyer, category, limit, as_json) -> None:
    """Search the catalog as a buyer's user does in the storefront and over OCI.

    Same search, same ranking: every word in any order, part numbers with or without
    separators, prefixes, one typo in longer words, `*` as the SAP wildcard.

    \b
    Example:
      punchgate catalog search "safety glove" --buyer acme
    """
    from gateway.catalog import search
    from gateway.models import Buyer

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        require(db, Buyer, buyer, "buyer")
        found = search(db, buyer, query, category=category, limit=limit, facets=False)
        rows = [
            {
                "sku": i.product.sku,
                "description": i.product.description,
                "manufacturer": i.product.manufacturer,
                "manufacturer_part_id": i.product.manufacturer_part_id,
                "price": f"{i.price:.2f}",
                "currency": i.product.currency,
                "contract": i.contract_price is not None,
            }
            for i in found.items
        ]
    echo_table(
        rows,
        [
            Column("SKU", "sku"),
            Column("DESCRIPTION", lambda r: r["description"][:60]),
            Column("MAKER", "manufacturer"),
            Column("PART", "manufacturer_part_id"),
            Column("PRICE", lambda r: f"{r['price']} {r['currency']}", right=True),
        ],
        f"nothing found for {query!r}",
        as_json,
    )


@catalog.command("reindex")
def catalog_reindex() -> None:
    """Rebuild the search index and vocabulary (after a SQLite VACUUM, or new search rules).

    \b
    Example:
      punchgate catalog reindex
    """
    from gateway.catalog.search import reindex_all

    gateway = open_gateway()
    with gateway.db.transaction() as session:
        count = reindex_all(session)
    click.echo(f"reindexed {count} product(s)")
