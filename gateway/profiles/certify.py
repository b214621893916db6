"""A certification run for one buyer: its fixtures and a full cart through an isolated gateway.

The buyer's configuration and catalog are copied into a throw-away gateway (its
own SQLite database in a temporary folder, fresh test credentials), so the run
touches nothing of the real one and needs none of the buyer's secrets. Then:

1. every fixture (the buyer's own with ``--fixtures``, otherwise the preset's
   folder in ``fixtures/``) is replayed through the real request handlers;
2. a cart with every catalog product the buyer can buy is punched out and
   transferred over each protocol the buyer has (cXML, OCI); what comes back is
   checked against the profile (unit, currency, classification, length rules)
   and, for cXML, against the DTD of its version.

The report says pass or fail per check, so an integration engineer can send it
to the buyer before go-live.
"""

from __future__ import annotations

import base64
import secrets
import tempfile
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from gateway import replay as rp
from gateway.config import Settings
from gateway.models import Buyer, BuyerCredential, ContractPrice, Product, Supplier
from gateway.profiles import codes
from gateway.profiles.rules import CartRules
from gateway.profiles.service import profile_summary, rules_of

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# The fixture folder that shows each preset's buyer system.
PRESET_FIXTURES = {
    "ariba": "ariba",
    "coupa": "coupa",
    "jaggaer": "jaggaer",
    "oracle": "oracle",
    "d365": "generic",
    "generic": "generic",
    "sap-srm": "sap-oci",
    "sap-s4": "sap-oci",
}
# Preset fixtures were written for the demo buyer: only the conversation (status,
# events, redirect) is compared, not one buyer's values (prices, field numbering).
GENERAL_KEYS = ("status", "http_status", "events", "location", "text")
CART_LIMIT = 200


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    buyer: str
    buyer_name: str
    preset: str
    fixtures: str
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    rules: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> int:
        return sum(not c.ok for c in self.checks)

    def text(self) -> str:
        lines = [
            f"Punchgate certification: buyer {self.buyer} ({self.buyer_name}), "
            f"profile {self.preset}",
            f"rules: {self.rules}",
            f"fixtures: {self.fixtures}",
            "",
        ]
        for check in self.checks:
            lines.append(f"{'PASS' if check.ok else 'FAIL'}  {check.name}")
            if check.detail:
                lines += [f"      {d}" for d in check.detail.splitlines()]
        lines += [
            "",
            f"{'PASSED' if self.ok else 'FAILED'}: {len(self.checks) - self.failed} passed, "
            f"{self.failed} failed ({self.seconds:.1f} s)",
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "buyer": self.buyer,
            "preset": self.preset,
            "rules": self.rules,
            "fixtures": self.fixtures,
            "ok": self.ok,
            "checks": [c.__dict__ for c in self.checks],
        }


class CertifyError(ValueError):
    """The run cannot start (unknown buyer, no fixtures)."""


def certify(gateway, buyer_id: str, fixtures: Path | None = None) -> Report:
    started = time.perf_counter()
    with gateway.db.transaction() as db:
        buyer = db.get(Buyer, buyer_id)
        if buyer is None:
            raise CertifyError(f"no buyer {buyer_id!r} in the database (punchgate buyers load …)")
        preset = (buyer.settings.get("profile") or {}).get("preset", "generic")
        snapshot = _snapshot(db, buyer)
    if fixtures is None:
        fixtures = FIXTURES / PRESET_FIXTURES[preset]
        general = True
    else:
        general = False
    found = rp.find_fixtures([fixtures]) if fixtures.exists() else []
    if not found:
        raise CertifyError(
            f"no fixtures (NAME.xml or NAME.oci with NAME.expect.toml) in {fixtures}"
        )
    report = Report(buyer_id, snapshot["name"], preset, str(fixtures))
    summary = profile_summary(snapshot["buyer"])
    report.rules = (
        f"units {summary['units']} · classification {summary['schemes']} · "
        f"currencies {summary['currencies']} · cancel {summary['cancel']}"
        + (f" · overridden: {', '.join(summary['overrides'])}" if summary["overrides"] else "")
    )
    with tempfile.TemporaryDirectory(prefix="punchgate-check-") as tmp:
        isolated, creds, oci_login = _isolated(gateway.settings, Path(tmp), snapshot)
        try:
            hook_field = (snapshot["settings"].get("oci") or {}).get("hook_url_field") or "HOOK_URL"
            report.checks += _replay(
                isolated, found, creds, oci_login, general, Path(tmp), hook_field
            )
            rules = rules_of(snapshot["buyer"])
            if creds is not None:
                report.checks.append(_cart_cxml(isolated, creds, rules, snapshot))
            if oci_login is not None:
                report.checks.append(_cart_oci(isolated, oci_login, rules, snapshot))
        finally:
            isolated.db.dispose()
    report.seconds = time.perf_counter() - started
    return report


def _snapshot(db, buyer: Buyer) -> dict:
    """What the isolated gateway needs of the real one (no secret among it)."""
    creds = list(
        db.scalars(
            select(BuyerCredential).where(
                BuyerCredential.buyer_id == buyer.id, BuyerCredential.valid_until.is_(None)
            )
        )
    )
    supplier = db.scalar(select(Supplier).limit(1))
    products = [
        {c.name: getattr(p, c.name) for c in Product.__table__.columns}
        for p in db.scalars(select(Product).order_by(Product.sku))
    ]
    prices = [
        {c.name: getattr(p, c.name) for c in ContractPrice.__table__.columns}
        for p in db.scalars(select(ContractPrice).where(ContractPrice.buyer_id == buyer.id))
    ]
    settings = dict(buyer.settings)
    # The run checks carts, not the buyer's user list: fixture users are created.
    settings["provisioning"] = {
        **settings.get("provisioning", {}),
        "auto_create_users": True,
        "unidentified_users": "generic",
    }
    detached = Buyer(id=buyer.id, name=buyer.name, settings=settings)
    return {
        "name": buyer.name,
        "buyer": detached,
        "settings": settings,
        "prefixes": list(buyer.return_url_prefixes or []),
        "from": [(c.domain, c.identity) for c in creds if c.kind == "from"],
        "sender": [(c.domain, c.identity) for c in creds if c.kind == "sender"],
        "oci": [c.identity for c in creds if c.kind == "oci"],
        "supplier": (supplier.name, list(supplier.credentials)) if supplier else None,
        "products": products,
        "prices": prices,
    }


def _isolated(settings: Settings, tmp: Path, snap: dict):
    from gateway.migrate import upgrade
    from gateway.state import Gateway
    from provisioning.buyers import set_secret

    url = f"sqlite:///{tmp / 'check.db'}"
    upgrade(url)
    isolated = Gateway.from_settings(
        replace(
            settings,
            database_url=url,
            secret_key=secrets.token_urlsafe(32),
            encryption_keys=(),
        )
    )
    prefix = (snap["prefixes"] or ["https://buyer.invalid/"])[0]
    creds = oci_login = None
    with isolated.db.transaction() as db:
        if snap["supplier"]:
            db.add(Supplier(name=snap["supplier"][0], credentials=snap["supplier"][1]))
        db.add(
            Buyer(
                id=snap["buyer"].id,
                name=snap["name"],
                return_url_prefixes=snap["prefixes"],
                settings=snap["settings"],
            )
        )
        db.flush()
        db.add_all(Product(**p) for p in snap["products"])
        db.flush()
        db.add_all(ContractPrice(**p) for p in snap["prices"])
        secret = secrets.token_urlsafe(24)
        if snap["from"] and snap["sender"]:
            for domain, identity in snap["from"]:
                db.add(
                    BuyerCredential(
                        buyer_id=snap["buyer"].id, kind="from", domain=domain, identity=identity
                    )
                )
            domain, identity = snap["sender"][0]
            set_secret(
                db,
                isolated.box,
                snap["buyer"].id,
                "sender",
                domain,
                identity,
                secret,
                _no_overlap(),
            )
            creds = rp.Credentials(
                snap["from"][0][0], snap["from"][0][1], domain, identity, secret, prefix + "check"
            )
        if snap["oci"]:
            password = secrets.token_urlsafe(24)
            set_secret(
                db,
                isolated.box,
                snap["buyer"].id,
                "oci",
                "",
                snap["oci"][0],
                password,
                _no_overlap(),
            )
            oci_login = rp.OciLogin(snap["buyer"].id, snap["oci"][0], password, prefix + "check")
    return isolated, creds, oci_login


def _no_overlap():
    from datetime import timedelta

    return timedelta(0)


def _replay(
    isolated, found, creds, oci_login, general: bool, tmp: Path, hook_field: str
) -> list[Check]:
    checks = []
    send = rp.in_process_sender(isolated)
    send_oci = rp.oci_in_process(isolated)
    for path in found:
        name = f"fixture {path.parent.name}/{path.name}"
        if path.suffix == ".oci" and oci_login is None or path.suffix == ".xml" and creds is None:
            checks.append(Check(name, False, "the buyer has no connection for this protocol"))
            continue
        if general:
            path = _general_copy(path, tmp, hook_field)
        if path.suffix == ".oci":
            outcome = rp.replay_oci(path, send_oci, lambda _b: oci_login)
        else:
            outcome = rp.replay_one(path, send, lambda _b: creds)
        checks.append(Check(name, outcome.ok, "" if outcome.ok else outcome.diff()))
    return checks


def _general_copy(path: Path, tmp: Path, hook_field: str) -> Path:
    """The fixture with an expectation of the conversation only (see GENERAL_KEYS),
    and HOOK_URL under the name this buyer's SAP sends it as."""
    folder = tmp / "fixtures" / path.parent.name
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / path.name
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".oci":
        text = "\n".join(
            hook_field + line[len("HOOK_URL") :] if line.startswith("HOOK_URL=") else line
            for line in text.splitlines()
        )
    copy.write_text(text, encoding="utf-8")
    buyer, expected = rp.expectation(path.with_suffix(".xml"))
    general = {k: v for k, v in expected.items() if k in GENERAL_KEYS}
    rp.write_expectation(copy.with_suffix(".xml"), buyer, general)
    return copy


# A certification that sent no line checked nothing: it must not pass.
NOTHING_SENT = "no line was sent: the catalog is empty (load it with `punchgate catalog load FILE`)"
NO_DTD = "DTD not checked (set PUNCHGATE_CXML_DTD_DIR to the official cXML DTDs)"


def _cart_skus(isolated, buyer_id: str) -> list[str]:
    with isolated.db.transaction() as db:
        return list(db.scalars(select(Product.sku).order_by(Product.sku).limit(CART_LIMIT)))


def _held_detail(exc) -> str:
    return "\n".join(f"line {p['line']} {p['sku']}: {p['message']}" for p in exc.problems)


def _cart_cxml(isolated, creds, rules: CartRules, snap: dict) -> Check:
    from gateway.cxml.dtd import DtdCatalog
    from gateway.punchout import cxml as inbound
    from gateway.simulator import setup_request
    from gateway.xml import parse

    dtd_dir = isolated.settings.cxml_dtd_dir
    name = "cart over cXML: every catalog product, checked against the profile" + (
        " and the DTD" if dtd_dir else ""
    )
    answer = inbound.handle(isolated, setup_request(creds, creds.return_url, "check@buyer.example"))
    root = parse(answer.body).root
    status = root.find("Response/Status")
    if status is None or status.get("code") != "200":
        return Check(name, False, f"setup refused: {answer.body[:300]!r}")
    start = root.findtext(".//StartPage/URL") or ""
    form = _fill_and_transfer(isolated, start, snap)
    if isinstance(form, str):
        return Check(name, False, form)
    values = dict(form.fields)
    document = (
        base64.b64decode(values["cxml-base64"])
        if "cxml-base64" in values
        else values["cxml-urlencoded"].encode("utf-8")
    )
    problems = []
    if dtd_dir:
        problems += [f"DTD: {e}" for e in DtdCatalog(dtd_dir).validate(document)]
    items = list(parse(document).root.iter("ItemIn"))
    for n, item in enumerate(items, start=1):
        unit = item.findtext("ItemDetail/UnitOfMeasure") or ""
        currency = item.find("ItemDetail/UnitPrice/Money").get("currency", "")
        domains = {
            c.get("domain"): (c.text or "") for c in item.iterfind("ItemDetail/Classification")
        }
        problems += _line_rules(rules, n, item.findtext("ItemID/SupplierPartID"), unit, currency)
        for scheme in rules.schemes:
            if not domains.get(codes.domain_of(scheme)):
                problems.append(f"line {n}: no {scheme} Classification")
    if not items:
        problems.append(NOTHING_SENT)
    detail = f"{len(items)} line(s) sent as cXML {parse(document).root.get('version')}, " + (
        "DTD checked" if dtd_dir else NO_DTD
    )
    return Check(name, not problems, "\n".join(problems) or detail)


def _cart_oci(isolated, login, rules: CartRules, snap: dict) -> Check:
    from gateway.oci.items import parse_new_item_fields
    from gateway.punchout import oci as oci_inbound

    name = "cart over OCI: every catalog product, checked against the profile"
    pairs = [
        ("USERNAME", login.username),
        ("PASSWORD", login.password),
        ((snap["settings"].get("oci") or {}).get("hook_url_field") or "HOOK_URL", login.hook_url),
        ("~OkCode", "ADDI"),
        ("email", "check@buyer.example"),
    ]
    try:
        shop = oci_inbound.handle(isolated, login.buyer, pairs)
    except oci_inbound.OciRefused as exc:
        return Check(name, False, f"OCI call refused: {exc.status} {exc.message}")
    form = _fill_and_transfer(isolated, None, snap, token=shop.token)
    if isinstance(form, str):
        return Check(name, False, form)
    items = parse_new_item_fields(form.fields)
    problems = [] if items else [NOTHING_SENT]
    for n, item in enumerate(items, start=1):
        problems += _line_rules(
            rules, n, item.get("VENDORMAT", ""), item.get("UNIT", ""), item.get("CURRENCY", "")
        )
    return Check(name, not problems, "\n".join(problems) or f"{len(items)} line(s) sent")


def _line_rules(rules: CartRules, n: int, sku, unit: str, currency: str) -> list[str]:
    """The rules checked again on what was actually sent (a second pair of eyes)."""
    problems = []
    if rules.units and unit not in rules.units:
        problems.append(f"line {n} {sku}: unit {unit!r} is not among {', '.join(rules.units)}")
    if rules.unit_standard == "rec20" and not codes.unit_known(unit, rules.extra_units):
        problems.append(f"line {n} {sku}: unit {unit!r} is not a Rec 20 code")
    if rules.currencies and currency not in rules.currencies:
        problems.append(f"line {n} {sku}: currency {currency} is not accepted")
    return problems


def _fill_and_transfer(isolated, start_url: str | None, snap: dict, token: str | None = None):
    """Start the session, put every product in the cart, transfer; the form or a failure."""
    from urllib.parse import urlsplit

    from gateway.sessions import service as sessions
    from gateway.sessions.transfer import TransferHeld, transfer

    with isolated.db.transaction() as db:
        if token is None:
            start_token = urlsplit(start_url).path.rsplit("/", 1)[-1]
            token = sessions.start(
                db, start_token, isolated.settings.session_ttl_seconds
            ).session_token
    skus = _cart_skus(isolated, snap["buyer"].id)
    with isolated.db.transaction() as db:
        session = sessions.by_token(db, token)
        for sku in skus:
            try:
                sessions.set_quantity(db, session, sku, Decimal(1), add=True, log=False)
            except sessions.SessionError:
                continue  # a product the buyer's role may not see
    held = None
    with isolated.db.transaction() as db:
        session = sessions.by_token(db, token)
        try:
            form = transfer(
                db, session, isolated.settings.default_cxml_version, isolated.settings.cxml_dtd_dir
            )
        except TransferHeld as exc:
            held = exc
        except sessions.SessionError as exc:
            return f"transfer failed: {exc.message}"
    if held is not None:
        return f"the pre-flight holds the cart ({len(held.problems)} problem(s)):\n" + _held_detail(
            held
        )
    return form
