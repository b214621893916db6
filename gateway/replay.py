"""Replaying fixture documents against the gateway and comparing the answers.

A fixture is ``NAME.xml`` with an expectation file ``NAME.expect.toml`` beside it::

    buyer = "acme"                 # whose credentials fill the placeholders
    [expect]
    status = 200                   # the cXML Status code
    text = ["BuyerCookie"]         # fragments the Status text must contain
    events = ["session.created"]   # event kinds the session log must show (in process)
    [expect.xpath]                 # XPath on the answer -> expected string value
    "count(//StartPage/URL)" = "1"

Placeholders filled before sending: ``{{payload_id}}``, ``{{timestamp}}``,
``{{from_domain}}``, ``{{from_identity}}``, ``{{sender_domain}}``,
``{{sender_identity}}``, ``{{shared_secret}}``, ``{{credential_mac}}`` (a whole
CredentialMac element, valid for an hour), ``{{return_url}}``, ``{{order_id}}`` (new for
every document) and ``{{run_order_id}}`` (the same for a whole run).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import secrets
import tempfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree
from sqlalchemy import select

from gateway.cxml.credentials import credential_mac
from gateway.xml import parse

PLACEHOLDERS = (
    "payload_id",
    "timestamp",
    "from_domain",
    "from_identity",
    "sender_domain",
    "sender_identity",
    "shared_secret",
    "credential_mac",
    "return_url",
    "order_id",
    "run_order_id",
)
# One order ID for a whole replay run, so new -> update -> delete fixtures (replayed in
# name order) act on the same order.
RUN_ORDER_ID = f"RUN-{secrets.token_hex(4).upper()}"


@dataclass(frozen=True)
class Credentials:
    from_domain: str
    from_identity: str
    sender_domain: str
    sender_identity: str
    shared_secret: str
    return_url: str


@dataclass
class Outcome:
    name: str
    ok: bool
    expected: dict
    actual: dict
    seconds: float
    problems: list[str] = field(default_factory=list)
    answer: bytes | None = None  # the cXML answer, when there is one

    def diff(self) -> str:
        """Expected against observed, then the answer itself, pretty-printed, secrets masked."""
        want = json.dumps(self.expected, indent=2, sort_keys=True).splitlines()
        got = json.dumps(self.actual, indent=2, sort_keys=True).splitlines()
        text = "\n".join(difflib.unified_diff(want, got, "expected", "answer", lineterm=""))
        if self.answer:
            shown = readable(self.answer).splitlines()
            more = len(shown) - ANSWER_LINES
            text += "\n\nthe answer:\n" + "\n".join(f"  | {line}" for line in shown[:ANSWER_LINES])
            if more > 0:
                text += f"\n  | ... {more} more line(s)"
        return text


ANSWER_LINES = 60
# The single-use token of a StartPage link opens a shopping session: never printed.
_START_TOKEN = re.compile(r"(<URL>[^<]*?/)([A-Za-z0-9_-]{20,})(</URL>)")


def readable(answer: bytes) -> str:
    """An answer as a person reads it: indented, secrets and start tokens masked."""
    from gateway.sessions.events import redact_document

    try:
        pretty = etree.tostring(parse(answer).root, pretty_print=True, encoding="unicode")
    except Exception:  # not XML: shown as received (still masked)
        pretty = answer.decode("utf-8", errors="replace")
    masked = redact_document(pretty.encode("utf-8"))
    return _START_TOKEN.sub(r"\1[redacted]\3", masked)


def find_fixtures(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".xml", ".oci") and p.with_suffix(".expect.toml").exists()
            )
        elif path.suffix in (".xml", ".oci"):
            found.append(path)
    return found


def credentials_from_db(gateway, buyer_id: str) -> Credentials:
    from gateway.models import Buyer, BuyerCredential

    with gateway.db.transaction() as db:
        buyer = db.get(Buyer, buyer_id)
        if buyer is None:
            raise ValueError(f"no buyer {buyer_id!r} in the database (punchgate buyers load …)")
        creds = {
            c.kind: c
            for c in db.scalars(
                select(BuyerCredential).where(
                    BuyerCredential.buyer_id == buyer_id, BuyerCredential.valid_until.is_(None)
                )
            )
        }
        if "from" not in creds or "sender" not in creds:
            raise ValueError(f"buyer {buyer_id!r} has no cXML credentials")
        secret = gateway.box.decrypt(creds["sender"].secret_encrypted or "")
        prefixes = buyer.return_url_prefixes or ["https://buyer.invalid/"]
    return Credentials(
        creds["from"].domain,
        creds["from"].identity,
        creds["sender"].domain,
        creds["sender"].identity,
        secret or "",
        prefixes[0] + "replay",
    )


def credentials_from_file(path: Path, buyer_id: str, env: dict | None = None) -> Credentials:
    from provisioning.buyers import parse_config

    _, specs = parse_config(path.read_text(encoding="utf-8"), env)
    spec = next((s for s in specs if s.id == buyer_id), None)
    if spec is None or not spec.from_ or not spec.senders:
        raise ValueError(f"{path}: no buyer {buyer_id!r} with cXML credentials")
    domain, identity, secret = spec.senders[0]
    prefix = (spec.return_url_prefixes or ["https://buyer.invalid/"])[0]
    return Credentials(
        spec.from_[0][0], spec.from_[0][1], domain, identity, secret.value, prefix + "replay"
    )


def fill(template: str, creds: Credentials) -> str:
    now = datetime.now(UTC)
    created = now.isoformat(timespec="seconds")
    expires = (now + timedelta(hours=1)).isoformat(timespec="seconds")
    mac = credential_mac(
        creds.shared_secret,
        creds.from_domain,
        creds.from_identity,
        creds.sender_domain,
        creds.sender_identity,
        created,
        expires,
    )
    values = {
        "payload_id": f"replay-{secrets.token_hex(8)}@punchgate",
        "timestamp": created,
        "from_domain": creds.from_domain,
        "from_identity": creds.from_identity,
        "sender_domain": creds.sender_domain,
        "sender_identity": creds.sender_identity,
        "shared_secret": creds.shared_secret,
        "credential_mac": (
            f'<CredentialMac type="FromSenderCredentials" '
            f'algorithm="HMAC-SHA1-96" creationDate="{created}" '
            f'expirationDate="{expires}">{mac}</CredentialMac>'
        ),
        "return_url": creds.return_url,
        "order_id": f"REPLAY-{secrets.token_hex(4).upper()}",
        "run_order_id": RUN_ORDER_ID,
    }
    for name in PLACEHOLDERS:
        template = template.replace("{{" + name + "}}", values[name])
    return template


def expectation(path: Path) -> tuple[str | None, dict]:
    data = tomllib.loads(path.with_suffix(".expect.toml").read_text(encoding="utf-8"))
    return data.get("buyer"), data.get("expect", {})


def observe(answer: bytes, expected: dict, events: list[str] | None) -> dict:
    """What the answer shows, in the shape of the expectation."""
    actual: dict = {}
    try:
        root = parse(answer).root
        status = root.find("Response/Status")
        actual["status"] = int(status.get("code")) if status is not None else None
        status_text = status.get("text", "") if status is not None else ""
    except Exception:  # an answer that is not cXML is reported, not raised
        root, status_text = None, ""
        actual["status"] = None
    if "text" in expected:
        actual["text"] = [t for t in expected["text"] if t in status_text] + (
            [f"(Status text: {status_text})"]
            if not all(t in status_text for t in expected["text"])
            else []
        )
    if "xpath" in expected:
        actual["xpath"] = {}
        for expr in expected["xpath"]:
            value = root.xpath(expr) if root is not None else None
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, list):
                value = "".join(str(v.text if hasattr(v, "text") else v) for v in value)
            actual["xpath"][expr] = str(value)
    if "events" in expected and events is not None:
        actual["events"] = [e for e in expected["events"] if e in events] + (
            [f"(logged: {', '.join(events)})"]
            if not all(e in events for e in expected["events"])
            else []
        )
    return actual


def replay_one(path: Path, send, creds_for, record: bool = False) -> Outcome:
    buyer, expected = expectation(path)
    creds = creds_for(buyer)
    body = fill(path.read_text(encoding="utf-8"), creds).encode("utf-8")
    started = time.perf_counter()
    answer, events = send(body)
    seconds = time.perf_counter() - started
    actual = observe(answer, expected, events)
    if record:
        write_expectation(path, buyer, {**expected, "status": actual["status"]})
        expected = {**expected, "status": actual["status"]}
    problems = [key for key in expected if key in actual and expected[key] != actual[key]]
    problems += [key for key in expected if key not in actual and key != "events"]
    return Outcome(
        f"{path.parent.name}/{path.name}", not problems, expected, actual, seconds, problems, answer
    )


def write_expectation(path: Path, buyer: str | None, expect: dict) -> None:
    lines = [f'buyer = "{buyer}"'] if buyer else []
    lines.append("[expect]")
    for key, value in expect.items():
        if key != "xpath":
            lines.append(f"{key} = {json.dumps(value)}")
    if expect.get("xpath"):
        lines.append("[expect.xpath]")
        lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in expect["xpath"].items()]
    path.with_suffix(".expect.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


# What an isolated replay copies from the configured database: the configuration, no data.
CONFIGURATION_TABLES = ("suppliers", "buyers", "buyer_credentials", "products", "contract_prices")


@contextlib.contextmanager
def isolated_gateway(
    settings,
    buyers_file: Path | None = None,
    catalog_file: Path | None = None,
    env: dict | None = None,
) -> Iterator:
    """A gateway on a fresh temporary SQLite database, deleted afterwards.

    It is migrated, then loaded with ``buyers_file`` and ``catalog_file`` (by default
    the ``catalog.csv`` beside the buyers file, if there is one), or else with the
    configured database's supplier, buyers and catalog, read in a read-only
    transaction. The sessions, users and orders a replay creates never reach the
    configured database.
    """
    from gateway.migrate import upgrade
    from gateway.state import Gateway

    with tempfile.TemporaryDirectory(prefix="punchgate-replay-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'replay.db'}"
        upgrade(url)
        gateway = Gateway.from_settings(replace(settings, database_url=url))
        try:
            if buyers_file is not None:
                from provisioning.buyers import load_buyers

                with gateway.db.transaction() as db:
                    load_buyers(db, buyers_file, gateway.box, env=env)
                beside = buyers_file.parent / "catalog.csv"
                catalog_file = catalog_file or (beside if beside.is_file() else None)
                if catalog_file is not None:
                    from gateway.catalog.loader import load_path

                    with gateway.db.transaction() as db:
                        load_path(db, catalog_file)
            else:
                copy_configuration(settings.database_url, gateway.db.engine)
            yield gateway
        finally:
            gateway.db.dispose()


def copy_configuration(source_url: str, target) -> None:
    """Copy supplier, buyers, credentials and catalog rows from ``source_url`` (read only)."""
    from sqlalchemy import create_engine, insert
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.models import Base

    url = make_url(source_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or not path.exists():
            raise ValueError(
                f"no configured database at {shown} to copy buyers from; give --buyers FILE.toml"
            )
        # Opened read only, so that not even SQLite's journal settings are written.
        source = create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")
    else:
        source = create_engine(source_url)
    try:
        with source.connect() as conn, target.begin() as out:
            if url.get_backend_name() == "postgresql":
                conn = conn.execution_options(postgresql_readonly=True)
            copied = 0
            for name in CONFIGURATION_TABLES:
                table = Base.metadata.tables[name]
                rows = [dict(r) for r in conn.execute(select(table)).mappings()]
                if rows:
                    out.execute(insert(table), rows)
                copied += len(rows) if name == "buyers" else 0
    except SQLAlchemyError as exc:
        raise ValueError(
            f"cannot copy the buyers of {shown} ({type(exc).__name__}); "
            "give --buyers FILE.toml or run punchgate db upgrade"
        ) from None
    finally:
        source.dispose()
    if not copied:
        raise ValueError(f"{shown} has no buyers to replay against; give --buyers FILE.toml")


def open_database(settings, database_url: str):
    """A gateway writing into ``database_url`` (replay --database), and how to name it."""
    from sqlalchemy.engine import make_url

    from gateway.state import Gateway

    shown = make_url(database_url).render_as_string(hide_password=True)
    return Gateway.from_settings(replace(settings, database_url=database_url)), shown


def in_process_sender(gateway):
    """Send through the real request handler; report the events the document caused."""
    from gateway.models import Event
    from gateway.punchout import cxml as inbound

    def send(body: bytes):
        with gateway.db.transaction() as db:
            last = db.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0
        answer = inbound.handle(gateway, body)
        with gateway.db.transaction() as db:
            kinds = list(db.scalars(select(Event.kind).where(Event.id > last).order_by(Event.id)))
        return answer.body, kinds

    return send


def http_sender(url: str, timeout: float = 30):
    def send(body: bytes):
        request = urllib.request.Request(  # noqa: S310 - the operator's --url
            url.rstrip("/") + "/cxml",
            data=body,
            method="POST",
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.read(), None
        except urllib.error.HTTPError as exc:  # a cXML 500 arrives as HTTP 500
            return exc.read(), None

    return send


def junit(outcomes: list[Outcome]) -> bytes:
    suite = etree.Element(
        "testsuite",
        name="punchgate replay",
        tests=str(len(outcomes)),
        failures=str(sum(not o.ok for o in outcomes)),
    )
    for outcome in outcomes:
        case = etree.SubElement(
            suite, "testcase", name=outcome.name, classname="replay", time=f"{outcome.seconds:.3f}"
        )
        if not outcome.ok:
            failure = etree.SubElement(case, "failure", message=", ".join(outcome.problems))
            failure.text = outcome.diff()
    return etree.tostring(suite, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def export_session(gateway, session_id: int, directory: Path) -> list[Path]:
    """Write a session's inbound cXML documents as replayable fixtures.

    The buyer's identities, payloadID, timestamp and (already redacted) secret
    become placeholders; the answer the gateway gave becomes the expectation.
    """
    from gateway.models import Event, PunchoutSession

    with gateway.db.transaction() as db:
        session = db.get(PunchoutSession, session_id)
        if session is None:
            raise ValueError(f"no session {session_id}")
        buyer_id = session.buyer_id
        events = list(
            db.scalars(select(Event).where(Event.session_id == session_id).order_by(Event.id))
        )
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index, event in enumerate(events):
        if event.kind != "document.in" or not event.document:
            continue
        answer = next((e for e in events[index + 1 :] if e.kind == "document.out"), None)
        status = (answer.data or {}).get("code") if answer else None
        name = f"{len(written) + 1:02d}-{(event.data or {}).get('payload_id', 'document')}"
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80]
        path = directory / f"{name}.xml"
        path.write_text(as_fixture(event.document), encoding="utf-8")
        write_expectation(path, buyer_id, {"status": status} if status else {})
        written.append(path)
    return written


def as_fixture(document: str) -> str:
    """A stored (redacted) document with placeholders for what must be fresh on replay."""
    parsed = parse(document.encode("utf-8"))
    root = parsed.root
    root.set("payloadID", "{{payload_id}}")
    root.set("timestamp", "{{timestamp}}")
    for party, prefix in (("From", "from"), ("Sender", "sender")):
        credential = root.find(f"Header/{party}/Credential")
        if credential is None:
            continue
        credential.set("domain", "{{" + prefix + "_domain}}")
        credential.find("Identity").text = "{{" + prefix + "_identity}}"
    for secret in root.iter("SharedSecret"):
        secret.text = "{{shared_secret}}"
    for url in root.iterfind(".//BrowserFormPost/URL"):
        url.text = "{{return_url}}"
    for header in root.iterfind(".//OrderRequestHeader"):
        header.set("orderID", "{{order_id}}")
    head = f"{parsed.doctype}\n" if parsed.doctype else ""
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{head}{body}\n'


# SAP OCI fixtures ----------------------------------------------------------------------
#
# NAME.oci holds the call's parameters, one "NAME=value" per line, with the
# placeholders {{oci_username}}, {{oci_password}} and {{hook_url}}; NAME.expect.toml
# may check ``http_status``, ``location`` (a fragment of the redirect) and
# ``fields`` (NEW_ITEM field -> value in the form posted back).


@dataclass(frozen=True)
class OciLogin:
    buyer: str
    username: str
    password: str
    hook_url: str


def oci_login_from_file(path: Path, buyer_id: str) -> OciLogin:
    from provisioning.buyers import parse_config

    _, specs = parse_config(path.read_text(encoding="utf-8"))
    spec = next((s for s in specs if s.id == buyer_id), None)
    if spec is None or spec.oci is None:
        raise ValueError(f"{path}: no buyer {buyer_id!r} with an OCI login")
    prefix = (spec.return_url_prefixes or ["https://buyer.invalid/"])[0]
    return OciLogin(buyer_id, spec.oci[0], spec.oci[1].value, prefix + "oci-replay")


def oci_pairs(path: Path, login: OciLogin) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        value = (
            value.replace("{{oci_username}}", login.username)
            .replace("{{oci_password}}", login.password)
            .replace("{{hook_url}}", login.hook_url)
        )
        pairs.append((name.strip(), value.strip()))
    return pairs


def oci_in_process(gateway):
    from gateway.models import Event
    from gateway.punchout import oci as oci_inbound

    def send(login: OciLogin, pairs):
        with gateway.db.transaction() as db:
            last = db.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0
        try:
            outcome = oci_inbound.handle(gateway, login.buyer, pairs)
        except oci_inbound.OciRefused as exc:
            result = {"http_status": exc.status}
        else:
            if isinstance(outcome, oci_inbound.PostBack):
                result = {"http_status": 200, "fields": dict(outcome.form.fields)}
            else:
                # The path the web layer redirects to (without the session token).
                path = "/shop/" + (
                    f"product/{outcome.args['sku']}" if outcome.endpoint == "shop.product" else ""
                )
                query = urllib.parse.urlencode(
                    {k: v for k, v in outcome.args.items() if k != "sku"}
                )
                result = {"http_status": 302, "location": path + ("?" + query if query else "")}
        with gateway.db.transaction() as db:
            kinds = list(db.scalars(select(Event.kind).where(Event.id > last).order_by(Event.id)))
        return result, kinds

    return send


def oci_http(url: str):
    from gateway.oci.items import parse_form_html

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)

    def send(login: OciLogin, pairs):
        target = f"{url.rstrip('/')}/oci/{login.buyer}?{urllib.parse.urlencode(pairs)}"
        try:
            with opener.open(target, timeout=30) as response:  # noqa: S310 - the operator's URL
                status, body, location = response.status, response.read(), ""
        except urllib.error.HTTPError as exc:
            status, body, location = exc.code, exc.read(), exc.headers.get("Location", "")
        result = {"http_status": status}
        if status == 302:
            result["location"] = location
        elif status == 200:
            result["fields"] = dict(parse_form_html(body)[1])
        return result, None

    return send


def replay_oci(path: Path, send, login_for) -> Outcome:
    buyer, expected = expectation(path.with_suffix(".xml"))
    login = login_for(buyer)
    started = time.perf_counter()
    result, events = send(login, oci_pairs(path, login))
    seconds = time.perf_counter() - started
    actual: dict = {"http_status": result["http_status"]}
    if "location" in expected:
        location = result.get("location", "")
        actual["location"] = expected["location"] if expected["location"] in location else location
    if "fields" in expected:
        got = result.get("fields", {})
        actual["fields"] = {name: got.get(name) for name in expected["fields"]}
    if "events" in expected and events is not None:
        actual["events"] = [e for e in expected["events"] if e in events] + (
            [f"(logged: {', '.join(events)})"]
            if not all(e in events for e in expected["events"])
            else []
        )
    problems = [key for key in expected if key in actual and expected[key] != actual[key]]
    return Outcome(
        f"{path.parent.name}/{path.name}", not problems, expected, actual, seconds, problems
    )
