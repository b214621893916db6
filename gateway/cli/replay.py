"""``punchgate replay`` and ``punchgate simulate``: fixtures and a simulated buyer."""

from __future__ import annotations

import contextlib
import sys
import urllib.parse
from pathlib import Path

import click

from gateway.cli.output import Column, echo_json, echo_table, fail, open_gateway, require
from gateway.config import Settings


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--url", help="A running gateway (default: in process, on a temporary database).")
@click.option(
    "--database",
    "database_url",
    help="Replay in process INTO this database (its data changes) instead of a temporary one.",
)
@click.option(
    "--buyer",
    default="acme",
    show_default=True,
    help="Buyer for fixtures whose expectation names none.",
)
@click.option(
    "--buyers",
    "buyers_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Buyers TOML: loaded into the temporary database, and the secrets for --url and OCI.",
)
@click.option(
    "--catalog",
    "catalog_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Catalog CSV for the temporary database (default: catalog.csv beside --buyers).",
)
@click.option(
    "--junit", "junit_file", type=click.Path(path_type=Path), help="Write a JUnit report."
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--record", is_flag=True, help="Write the answers as the new expectations.")
def replay(
    paths, url, database_url, buyer, buyers_file, catalog_file, junit_file, as_json, record
) -> None:
    """Send fixture documents and compare the answers with their expectations.

    In process (the default) the fixtures run against a fresh temporary database,
    migrated and loaded with --buyers FILE (or a copy of the configured buyers), and
    deleted afterwards: nothing real is touched. --database URL writes into that
    database instead; --url sends to a running gateway. Exits 1 when anything differs.

    \b
    Examples:
      punchgate replay --buyers fixtures/demo/buyers.toml fixtures/
      punchgate replay fixtures/coupa --url https://gw.example --buyers buyers.toml
      punchgate replay fixtures/ --junit report.xml --json
    """
    from gateway import replay as rp

    fixtures = rp.find_fixtures(list(paths))
    if not fixtures:
        fail("no fixtures (NAME.xml with NAME.expect.toml) found")
    if url and database_url:
        fail("--url and --database exclude each other: the target's database is its own")
    if url and not url.startswith(("http://", "https://")):
        fail("--url must be an http(s) URL")
    if url and not buyers_file:
        fail("--url needs --buyers FILE.toml for the secrets")
    if any(p.suffix == ".oci" for p in fixtures) and not buyers_file:
        fail("OCI fixtures need --buyers FILE.toml: OCI passwords are stored only as hashes")
    with contextlib.ExitStack() as stack:
        try:
            gateway = None
            if database_url:
                gateway, shown = rp.open_database(Settings.from_env(), database_url)
                stack.callback(gateway.db.dispose)
                click.echo(
                    f"replaying into {shown}: what the fixtures create stays there", err=True
                )
            elif not url:
                gateway = stack.enter_context(
                    rp.isolated_gateway(Settings.from_env(), buyers_file, catalog_file)
                )
            outcomes = _replay(rp, fixtures, gateway, url, buyer, buyers_file, record)
        except ValueError as exc:
            fail(str(exc))
    if junit_file:
        junit_file.write_bytes(rp.junit(outcomes))
    failed = [o for o in outcomes if not o.ok]
    if as_json:
        echo_json(
            [
                {
                    "name": o.name,
                    "ok": o.ok,
                    "expected": o.expected,
                    "actual": o.actual,
                    "seconds": round(o.seconds, 4),
                }
                for o in outcomes
            ]
        )
    else:
        _summary(outcomes)
        for o in failed:
            click.echo(f"\n{o.name}: {', '.join(o.problems)} differ\n{o.diff()}")
        click.echo(f"\n{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


def _replay(rp, fixtures, gateway, url, buyer, buyers_file, record) -> list:
    """Replay each fixture, printing a progress line per fixture on stderr."""
    if url:
        send = rp.http_sender(url)
        creds_for = lambda b: rp.credentials_from_file(buyers_file, b or buyer)  # noqa: E731
        send_oci = rp.oci_http(url)
    else:
        send = rp.in_process_sender(gateway)
        send_oci = rp.oci_in_process(gateway)
        cache: dict = {}

        def creds_for(b):
            key = b or buyer
            if key not in cache:
                cache[key] = rp.credentials_from_db(gateway, key)
            return cache[key]

    def login_for(b):
        return rp.oci_login_from_file(buyers_file, b or buyer)

    outcomes = []
    width = max(len(f"{p.parent.name}/{p.name}") for p in fixtures)
    count = len(str(len(fixtures)))
    for number, path in enumerate(fixtures, start=1):
        if path.suffix == ".oci":
            o = rp.replay_oci(path, send_oci, login_for)
        else:
            o = rp.replay_one(path, send, creds_for, record=record)
        outcomes.append(o)
        shown = (
            f"status {o.actual['status']}"
            if "status" in o.actual
            else f"HTTP {o.actual.get('http_status')}"
        )
        click.echo(
            f"[{number:>{count}}/{len(fixtures)}] {'ok  ' if o.ok else 'FAIL'}  "
            f"{o.name:<{width}}  {shown:<10}  {o.seconds * 1000:7.1f} ms",
            err=True,
        )
    return outcomes


def _summary(outcomes) -> None:
    """One row per fixture folder (buyer system): how many passed, failed, and how fast."""
    groups: dict[str, list] = {}
    for o in outcomes:
        groups.setdefault(o.name.split("/")[0], []).append(o)
    rows = [
        {
            "folder": name,
            "fixtures": len(items),
            "passed": sum(o.ok for o in items),
            "failed": sum(not o.ok for o in items),
            "ms": f"{sum(o.seconds for o in items) * 1000:.1f}",
        }
        for name, items in groups.items()
    ]
    click.echo("")
    echo_table(
        rows,
        [
            Column("FOLDER", "folder"),
            Column("FIXTURES", "fixtures", right=True),
            Column("PASSED", "passed", right=True),
            Column("FAILED", "failed", right=True),
            Column("MS", "ms", right=True),
        ],
        empty="",
    )


@click.command()
@click.option("--buyer", "buyer_id", required=True, help="The buyer to play.")
@click.option("--protocol", type=click.Choice(["cxml", "oci"]), default="cxml", show_default=True)
@click.option(
    "--url", default="http://127.0.0.1:8000", show_default=True, help="The running gateway."
)
@click.option(
    "--buyers",
    "buyers_file",
    type=click.Path(exists=True, path_type=Path),
    help="Buyers TOML with the secrets (default: the database; OCI needs the file).",
)
@click.option("--email", default="simulated.user@buyer.example", show_default=True)
@click.option(
    "--dtd-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Validate the returned cXML against the DTDs in this directory.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the StartPage in a browser.")
@click.option("--order", "send_order", is_flag=True, help="Send the matching OrderRequest.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the cart.")
def simulate(
    buyer_id, protocol, url, buyers_file, email, dtd_dir, open_browser, send_order, timeout
) -> None:
    """Play the buyer's procurement system: setup, shopping link, cart back, order.

    \b
    Example:
      punchgate simulate --buyer acme --buyers fixtures/demo/buyers.toml --order
    """
    import webbrowser

    from gateway import replay as rp
    from gateway import simulator as sim
    from provisioning.buyers import parse_config

    if not url.startswith(("http://", "https://")):
        fail("--url must be an http(s) URL")
    try:
        if buyers_file:
            _, specs = parse_config(buyers_file.read_text(encoding="utf-8"))
            spec = next((s for s in specs if s.id == buyer_id), None)
            if spec is None:
                fail(f"{buyers_file}: no buyer {buyer_id!r}")
            prefixes = spec.return_url_prefixes
            creds = rp.credentials_from_file(buyers_file, buyer_id) if spec.senders else None
            oci_login = (spec.oci[0], spec.oci[1].value) if spec.oci else None
        else:
            gateway = open_gateway()
            creds = rp.credentials_from_db(gateway, buyer_id)
            with gateway.db.transaction() as db:
                from gateway.models import Buyer

                prefixes = require(db, Buyer, buyer_id, "buyer").return_url_prefixes
            oci_login = None
        # A loopback prefix of the buyer's, but not the gateway's own address (in the
        # demo, the gateway serves one of the buyer's return pages itself).
        gateway_at = urllib.parse.urlsplit(url).netloc
        listener = sim.ReturnListener(
            next(
                (
                    p
                    for p in prefixes
                    if urllib.parse.urlsplit(p).hostname in sim.LOCAL_HOSTS
                    and urllib.parse.urlsplit(p).netloc != gateway_at
                ),
                prefixes[0] if prefixes else "https://none.invalid/",
            )
        )
    except (ValueError, sim.SimulatorError) as exc:
        fail(str(exc))
    try:
        if protocol == "cxml":
            if creds is None:
                fail(f"buyer {buyer_id!r} has no cXML credentials")
            code, text, answer = sim.post_cxml(url, sim.setup_request(creds, listener.url, email))
            if code != 200:
                fail(f"PunchOutSetupRequest answered {code} {text}")
            start = sim.parse(answer).root.findtext(".//StartPage/URL")
        else:
            if oci_login is None:
                fail("OCI needs --buyers FILE.toml with the buyer's OCI login")
            start = sim.oci_url(url, buyer_id, oci_login[0], oci_login[1], listener.url, email)
        click.echo(f"StartPage: {start}", err=False)
        click.echo(f"waiting for the cart at {listener.url} …")
        sys.stdout.flush()
        if open_browser:
            webbrowser.open(start)
        try:
            lines, document = sim.read_cart(listener.wait(timeout))
        except sim.SimulatorError as exc:
            fail(str(exc))
        click.echo(f"\ncart: {len(lines)} line(s)")
        click.echo(
            f"{'SKU':<14} {'QTY':>8} {'UNIT':<5} {'PRICE':>12} {'CUR':<4} LINE ID           "
            "DESCRIPTION"
        )
        for line in lines:
            click.echo(
                f"{line.sku:<14} {line.quantity:>8} {line.unit:<5} {line.price:>12} "
                f"{line.currency:<4} {line.line_id:<17} {line.description}"
            )
        if document is not None and dtd_dir:
            from gateway.cxml.dtd import DtdCatalog

            errors = DtdCatalog(dtd_dir).validate(document)
            click.echo("DTD valid" if not errors else "DTD errors:\n  " + "\n  ".join(errors))
        if send_order:
            if creds is None:
                fail("an order needs the buyer's cXML credentials")
            code, text, _ = sim.post_cxml(url, sim.order_request(creds, lines))
            click.echo(f"OrderRequest answered {code} {text}")
    finally:
        listener.close()
