"""The ``punchgate`` command (also ``python -m gateway``)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import urllib.parse
from pathlib import Path

import click
from sqlalchemy import select

from gateway.config import Settings


def _gateway():
    from gateway.state import Gateway

    return Gateway.from_settings(Settings.from_env())


@click.group()
def main() -> None:
    """Punchgate: punchout and procurement integration gateway."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations (SQLite or PostgreSQL)."""
    from gateway.migrate import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


@main.group()
def buyers() -> None:
    """Supplier and buyer connections."""


@buyers.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def buyers_load(path: Path) -> None:
    """Upsert the supplier and buyers from a TOML file (idempotent)."""
    from provisioning.buyers import ConfigError, load_buyers

    gateway = _gateway()
    try:
        with gateway.db.transaction() as session:
            ids = load_buyers(session, path, gateway.box)
    except ConfigError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    click.echo(f"loaded {len(ids)} buyer(s): {', '.join(ids) or '-'}")


@buyers.command("credentials")
@click.option(
    "--stale",
    is_flag=True,
    help="Only replaced secrets still in use, for support to call the buyer.",
)
@click.option("--json", "as_json", is_flag=True)
def buyers_credentials(stale: bool, as_json: bool) -> None:
    """Credentials per buyer: current, replaced (and until when), last used."""
    from provisioning.rotation import credential_report

    gateway = _gateway()
    with gateway.db.transaction() as db:
        rows = credential_report(db, stale_only=stale)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
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


@main.group()
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
            raise click.ClickException(f"environment variable {password_env} is not set")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    gateway = _gateway()
    try:
        with gateway.db.transaction() as db:
            agent = add_agent(db, gateway.box, email, password, role)
            click.echo(f"agent {agent.email} ({agent.role}) saved")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def keys() -> None:
    """Encryption keys for secrets the gateway must send."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the newest PUNCHGATE_ENCRYPTION_KEYS key."""
    from gateway.models import BuyerCredential

    gateway = _gateway()
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


@main.group()
def catalog() -> None:
    """The embedded marketplace catalog."""


@catalog.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def catalog_load(path: Path) -> None:
    """Upsert products and buyer contract prices from a CSV file."""
    from gateway.marketplace.catalog import CatalogError, load_catalog

    gateway = _gateway()
    try:
        with gateway.db.transaction() as session:
            products, prices = load_catalog(session, path)
    except CatalogError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    click.echo(f"loaded {products} product(s) and {prices} contract price(s)")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--outbox-worker", is_flag=True, help="Also run the outbox worker beside gunicorn.")
def serve(host: str, port: int, workers: int, outbox_worker: bool) -> None:
    """Serve with gunicorn (production server)."""
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        # %(U)s is the path without the query string: OCI logins arrive as GET
        # parameters (USERNAME/PASSWORD), which must never reach a log.
        "--access-logformat",
        '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"',
        "--max-requests",
        "5000",
        "--max-requests-jitter",
        "500",
        "wsgi:app",
    ]
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    # Without a public URL configured, StartPage links point at the bound address.
    env.setdefault("PUNCHGATE_BASE_URL", f"http://{host}:{port}")
    if not outbox_worker:
        os.execvpe(argv[0], argv, env)  # noqa: S606 - replace this process with gunicorn
    import signal
    import subprocess

    # Both children live and die together; the worker is a separate process so a
    # crash in one never takes the other down.
    children = [
        subprocess.Popen(argv, env=env),
        subprocess.Popen([sys.executable, "-m", "gateway", "outbox", "run"], env=env),
    ]

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            child.wait(10)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Only migrate and load the demo data.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Migrate, load the demo supplier, buyers and catalog, then serve."""
    from gateway.marketplace.catalog import load_catalog
    from gateway.migrate import upgrade
    from provisioning.buyers import load_buyers

    demo_dir = Path(__file__).resolve().parent.parent / "fixtures" / "demo"
    settings = Settings.from_env()
    upgrade(settings.database_url)
    gateway = _gateway()
    with gateway.db.transaction() as session:
        load_buyers(session, demo_dir / "buyers.toml", gateway.box, env={**os.environ})
    with gateway.db.transaction() as session:
        products, _ = load_catalog(session, demo_dir / "catalog.csv")
    click.echo(f"demo loaded: {products} products; buyers from {demo_dir / 'buyers.toml'}")
    click.echo(
        f"try: curl -s -X POST --data-binary @{demo_dir / 'setup-request.xml'} "
        f"http://{host}:{port}/cxml"
    )
    if not no_serve:
        click.get_current_context().invoke(
            serve, host=host, port=port, workers=2, outbox_worker=True
        )


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--url", help="A running gateway (default: in process, on the configured database).")
@click.option(
    "--buyer",
    default="acme",
    show_default=True,
    help="Buyer for fixtures whose expectation names none.",
)
@click.option(
    "--buyers",
    "buyers_file",
    type=click.Path(exists=True, path_type=Path),
    help="Buyers TOML to take secrets from (needed with --url).",
)
@click.option(
    "--junit", "junit_file", type=click.Path(path_type=Path), help="Write a JUnit report."
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--record", is_flag=True, help="Write the answers as the new expectations.")
def replay(paths, url, buyer, buyers_file, junit_file, as_json, record) -> None:
    """Send fixture documents and compare the answers with their expectations."""
    from gateway import replay as rp

    fixtures = rp.find_fixtures(list(paths))
    if not fixtures:
        raise click.ClickException("no fixtures (NAME.xml with NAME.expect.toml) found")
    if url:
        if not url.startswith(("http://", "https://")):
            raise click.ClickException("--url must be an http(s) URL")
        if not buyers_file:
            raise click.ClickException("--url needs --buyers FILE.toml for the secrets")
        send = rp.http_sender(url)
        creds_for = lambda b: rp.credentials_from_file(buyers_file, b or buyer)  # noqa: E731
    else:
        gateway = _gateway()
        send = rp.in_process_sender(gateway)
        cache: dict = {}

        def creds_for(b):
            key = b or buyer
            if key not in cache:
                cache[key] = rp.credentials_from_db(gateway, key)
            return cache[key]

    if any(p.suffix == ".oci" for p in fixtures):
        if not buyers_file:
            raise click.ClickException(
                "OCI fixtures need --buyers FILE.toml: OCI passwords are stored only as hashes"
            )
        send_oci = rp.oci_http(url) if url else rp.oci_in_process(_gateway())

        def login_for(b):
            return rp.oci_login_from_file(buyers_file, b or buyer)

    outcomes = []
    try:
        with click.progressbar(
            fixtures,
            label="replaying",
            file=sys.stderr,
            item_show_func=lambda p: p.name if p else "",
        ) as bar:
            for path in bar:
                if path.suffix == ".oci":
                    outcomes.append(rp.replay_oci(path, send_oci, login_for))
                else:
                    outcomes.append(rp.replay_one(path, send, creds_for, record=record))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if junit_file:
        junit_file.write_bytes(rp.junit(outcomes))
    failed = [o for o in outcomes if not o.ok]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": o.name,
                        "ok": o.ok,
                        "expected": o.expected,
                        "actual": o.actual,
                        "seconds": round(o.seconds, 4),
                    }
                    for o in outcomes
                ],
                indent=2,
            )
        )
    else:
        width = max(len(o.name) for o in outcomes)
        for o in outcomes:
            mark = "ok  " if o.ok else "FAIL"
            shown = (
                f"status {o.actual['status']}"
                if "status" in o.actual
                else f"HTTP {o.actual.get('http_status')}"
            )
            click.echo(f"{mark}  {o.name:<{width}}  {shown:<10}  {o.seconds * 1000:7.1f} ms")
        for o in failed:
            click.echo(f"\n{o.name}: {', '.join(o.problems)} differ\n{o.diff()}")
        click.echo(f"\n{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


@main.command()
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
    """Play the buyer's procurement system: setup, shopping link, cart back, order."""
    import webbrowser

    from gateway import replay as rp
    from gateway import simulator as sim
    from provisioning.buyers import parse_config

    if not url.startswith(("http://", "https://")):
        raise click.ClickException("--url must be an http(s) URL")
    try:
        if buyers_file:
            _, specs = parse_config(buyers_file.read_text(encoding="utf-8"))
            spec = next((s for s in specs if s.id == buyer_id), None)
            if spec is None:
                raise click.ClickException(f"{buyers_file}: no buyer {buyer_id!r}")
            prefixes = spec.return_url_prefixes
            creds = rp.credentials_from_file(buyers_file, buyer_id) if spec.senders else None
            oci_login = (spec.oci[0], spec.oci[1].value) if spec.oci else None
        else:
            gateway = _gateway()
            creds = rp.credentials_from_db(gateway, buyer_id)
            with gateway.db.transaction() as db:
                from gateway.models import Buyer

                prefixes = db.get(Buyer, buyer_id).return_url_prefixes
            oci_login = None
        listener = sim.ReturnListener(
            next(
                (p for p in prefixes if urllib.parse.urlsplit(p).hostname in sim.LOCAL_HOSTS),
                prefixes[0] if prefixes else "https://none.invalid/",
            )
        )
    except (ValueError, sim.SimulatorError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if protocol == "cxml":
            if creds is None:
                raise click.ClickException(f"buyer {buyer_id!r} has no cXML credentials")
            code, text, answer = sim.post_cxml(url, sim.setup_request(creds, listener.url, email))
            if code != 200:
                raise click.ClickException(f"PunchOutSetupRequest answered {code} {text}")
            start = sim.parse(answer).root.findtext(".//StartPage/URL")
        else:
            if oci_login is None:
                raise click.ClickException(
                    "OCI needs --buyers FILE.toml with the buyer's OCI login"
                )
            start = sim.oci_url(url, buyer_id, oci_login[0], oci_login[1], listener.url, email)
        click.echo(f"StartPage: {start}", err=False)
        click.echo(f"waiting for the cart at {listener.url} …")
        sys.stdout.flush()
        if open_browser:
            webbrowser.open(start)
        try:
            lines, document = sim.read_cart(listener.wait(timeout))
        except sim.SimulatorError as exc:
            raise click.ClickException(str(exc)) from None
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
                raise click.ClickException("an order needs the buyer's cXML credentials")
            code, text, _ = sim.post_cxml(url, sim.order_request(creds, lines))
            click.echo(f"OrderRequest answered {code} {text}")
    finally:
        listener.close()


@main.group()
def sessions() -> None:
    """Punchout sessions and their event logs."""


def _session_row(s, lines: int) -> dict:
    return {
        "id": s.id,
        "buyer": s.buyer_id,
        "user": (s.user.email or s.user.unique_name) if s.user else None,
        "protocol": s.protocol,
        "operation": s.operation,
        "status": s.state,
        "lines": lines,
        "created_at": s.created_at.isoformat(),
        "transferred_at": s.transferred_at.isoformat() if s.transferred_at else None,
    }


@sessions.command("list")
@click.option("--buyer", help="Buyer id.")
@click.option("--user", help="User email or unique name.")
@click.option("--status", help="open, abandoned, transferred, ordered, failed, saved or loaded")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def sessions_list(buyer, user, status, limit, as_json) -> None:
    """Punchout sessions, newest first (the same filters as the support console)."""
    from gateway.support.queries import SessionFilter, line_counts, list_sessions

    gateway = _gateway()
    with gateway.db.transaction() as db:
        found, _ = list_sessions(
            db, SessionFilter(buyer=buyer, user=user, status=status), limit=limit
        )
        lines = line_counts(db, found)
        rows = [_session_row(s, lines.get(s.id, 0)) for s in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no sessions")
        return
    click.echo(
        f"{'ID':>6}  {'BUYER':<14} {'USER':<28} {'PROTO':<5} {'OP':<8} {'STATUS':<12} "
        f"{'LINES':>5}  CREATED"
    )
    for r in rows:
        click.echo(
            f"{r['id']:>6}  {r['buyer']:<14} {(r['user'] or '-'):<28} {r['protocol']:<5} "
            f"{r['operation']:<8} {r['status']:<12} {r['lines']:>5}  {r['created_at'][:19]}"
        )


@sessions.command("export")
@click.argument("session_id", type=int)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def sessions_export(session_id: int, directory: Path) -> None:
    """Write a session's documents (secrets redacted) as a replayable fixture set."""
    from gateway.replay import export_session

    try:
        written = export_session(_gateway(), session_id, directory)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"replay with: punchgate replay {directory}")


@sessions.command("show")
@click.argument("session_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def sessions_show(session_id: int, as_json: bool) -> None:
    """One session: every event with its document, and the cart."""
    from gateway.models import Event, PunchoutSession
    from gateway.sessions.service import cart_view

    gateway = _gateway()
    with gateway.db.transaction() as db:
        s = db.get(PunchoutSession, session_id)
        if s is None:
            raise click.ClickException(f"no session {session_id}")
        info = _session_row(s, len(s.lines))
        info.update(
            buyer_cookie=s.buyer_cookie,
            return_url=s.return_url,
            payload_id=s.payload_id,
            identity=s.details.get("identity"),
            cart=cart_view(s, show_prices=True),
        )
        events = [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "kind": e.kind,
                "level": e.level,
                "message": e.message,
                "data": e.data,
                "document": e.document,
            }
            for e in db.scalars(select(Event).where(Event.session_id == s.id).order_by(Event.id))
        ]
    if as_json:
        click.echo(json.dumps({**info, "events": events}, indent=2, default=str))
        return
    click.echo(
        f"session {info['id']}  buyer {info['buyer']}  user {info['user'] or '-'}  "
        f"{info['protocol']}/{info['operation']}  {info['status']}"
    )
    click.echo(f"BuyerCookie {info['buyer_cookie']}  return {info['return_url'] or '-'}")
    click.echo("")
    click.echo("cart:")
    for item in info["cart"]["items"]:
        click.echo(
            f"  {item['quantity']:>6} x {item['sku']:<16} {item['unit_price']:>10} "
            f"{item['currency']}  {item['description']}"
        )
    click.echo(f"  total {info['cart']['total']} {info['cart']['currency'] or ''}")
    click.echo("")
    click.echo("events:")
    for e in events:
        click.echo(f"  {e['at'][:19]}  {e['level']:<7} {e['kind']:<18} {e['message']}")
        if e["document"]:
            for line in e["document"].splitlines()[:200]:
                click.echo(f"      | {line}")


@main.group()
def outbox() -> None:
    """Reliable delivery of outbound messages."""


@outbox.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--idle", default=1.0, show_default=True, help="Seconds to sleep when idle.")
def outbox_run(once: bool, idle: float) -> None:
    """Deliver pending messages (marketplace orders, cXML documents)."""
    from gateway import outbox as box

    gateway = _gateway()
    if once:
        stats = box.run_once(gateway, limit=1000)
        click.echo(f"sent {stats.sent}, retry later {stats.retried}, dead {stats.dead}")
        return
    click.echo("outbox worker running (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        box.run_forever(gateway, idle)


@outbox.command("list")
@click.option("--status", help="pending, sent or dead")
@click.option("--json", "as_json", is_flag=True)
def outbox_list(status, as_json) -> None:
    """Outbound messages, newest first."""
    from gateway.models import OutboxMessage

    gateway = _gateway()
    with gateway.db.transaction() as db:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)
        if status:
            stmt = stmt.where(OutboxMessage.status == status)
        rows = [
            {
                "id": m.id,
                "kind": m.kind,
                "status": m.status,
                "attempts": m.attempts,
                "key": m.idempotency_key,
                "last_error": m.last_error,
            }
            for m in db.scalars(stmt)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['id']:>6}  {r['kind']:<20} {r['status']:<8} {r['attempts']:>3}  "
            f"{r['key']:<24} {r['last_error'] or ''}"
        )


@main.group()
def orders() -> None:
    """Orders taken from buyers."""


@orders.command("list")
@click.option("--buyer", help="Buyer id.")
@click.option("--json", "as_json", is_flag=True)
def orders_list(buyer, as_json) -> None:
    """Orders handed to the marketplace, with their delivery state."""
    from gateway.models import Order, OutboxMessage

    gateway = _gateway()
    with gateway.db.transaction() as db:
        stmt = select(Order).order_by(Order.id.desc()).limit(200)
        if buyer:
            stmt = stmt.where(Order.buyer_id == buyer)
        rows = []
        for o in db.scalars(stmt):
            delivery = db.scalar(
                select(OutboxMessage).where(
                    OutboxMessage.order_pk == o.id, OutboxMessage.kind == "marketplace.order"
                )
            )
            rows.append(
                {
                    "id": o.id,
                    "buyer": o.buyer_id,
                    "order_id": o.order_id,
                    "version": o.version,
                    "type": o.type,
                    "status": o.status,
                    "session": o.session_id,
                    "lines": len(o.lines),
                    "total": None if o.total is None else str(o.total),
                    "currency": o.currency,
                    "flags": len(o.details.get("flags", [])),
                    "delivery": delivery.status if delivery else None,
                    "attempts": delivery.attempts if delivery else 0,
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no orders")
        return
    click.echo(
        f"{'ID':>5}  {'BUYER':<10} {'ORDER':<14} {'V':>2} {'TYPE':<6} {'STATUS':<11} "
        f"{'LINES':>5} {'FLAGS':>5}  DELIVERY"
    )
    for r in rows:
        click.echo(
            f"{r['id']:>5}  {r['buyer']:<10} {r['order_id']:<14} {r['version']:>2} "
            f"{r['type']:<6} {r['status']:<11} {r['lines']:>5} {r['flags']:>5}  "
            f"{r['delivery'] or '-'} ({r['attempts']} attempt(s))"
        )


@main.group()
def marketplace() -> None:
    """The embedded marketplace: move an order along its journey."""


def _marketplace_event(order_pk: int, kind: str, **details) -> None:
    import uuid

    from gateway.marketplace import events

    gateway = _gateway()
    try:
        with gateway.db.transaction() as db:
            _, order = events.apply(
                db,
                {"event_id": f"cli-{uuid.uuid4()}", "type": kind, "order_id": order_pk, **details},
            )
            click.echo(f"order {order.id} ({order.order_id}) is now {order.status}")
    except events.WebhookError as exc:
        raise click.ClickException(exc.message) from None


@marketplace.command("confirm")
@click.argument("order", type=int)
def marketplace_confirm(order: int) -> None:
    """Confirm an order."""
    _marketplace_event(order, "confirmed")


@marketplace.command("ship")
@click.argument("order", type=int)
@click.option("--carrier", required=True)
@click.option("--tracking", "tracking_number", required=True)
def marketplace_ship(order: int, carrier: str, tracking_number: str) -> None:
    """Ship an order with a carrier and tracking number."""
    _marketplace_event(order, "shipped", carrier=carrier, tracking_number=tracking_number)


@marketplace.command("invoice")
@click.argument("order", type=int)
@click.option("--invoice-id", required=True)
def marketplace_invoice(order: int, invoice_id: str) -> None:
    """Invoice an order."""
    _marketplace_event(order, "invoiced", invoice_id=invoice_id)


if __name__ == "__main__":
    main()
