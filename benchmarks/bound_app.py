"""The bound: the least a punchout setup, OCI call or add to cart can cost on this stack,
for ``setup_bound`` and ``cart_bound``.

The floor's Flask app and lxml parse, plus the rows every setup must store, written on
the raw driver (sqlite3 or psycopg, no SQLAlchemy) in one transaction into the gateway's
own migrated schema, so with the same indexes: the session with its start token, the
request-log row, and the session log's three events (document in, session created,
document out), the documents stored as the gateway stores them. No authentication, no
user lookup or provisioning, no redaction, no checks. Nothing a real setup could skip,
and much it cannot: a gateway that does the whole work is slower than this app.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import Flask, Response, jsonify, request
from lxml import etree

app = Flask(__name__)
URL = os.environ["PUNCHGATE_DATABASE_URL"]
ANSWER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.069/cXML.dtd">\n'
    '<cXML payloadID="{payload}" timestamp="{now}" version="1.2.069">'
    '<Response><Status code="200" text="OK"/></Response><PunchOutSetupResponse><StartPage>'
    "<URL>http://127.0.0.1/punchout/start/{token}</URL></StartPage></PunchOutSetupResponse>"
    "</cXML>"
)
SESSION = (
    "INSERT INTO punchout_sessions (buyer_id, user_id, protocol, operation, status,"
    " buyer_cookie, return_url, payload_id, cxml_version, details, start_token_hash,"
    " start_token_expires_at, created_at) VALUES ({}) RETURNING id"
)
REQUEST = (
    "INSERT INTO inbound_requests (at, request_id, channel, method, path, buyer_id, sender,"
    " user_email, doc_type, payload_id, http_status, cxml_code, failed, latency_ms, size,"
    " session_id, document) VALUES ({})"
)
EVENT = (
    "INSERT INTO events (at, buyer_id, session_id, kind, level, message, data, document,"
    " request_id) VALUES ({})"
)
SQLITE = URL.startswith("sqlite")
_local = threading.local()


def _marks(n: int) -> str:
    return ", ".join(["?" if SQLITE else "%s"] * n)


def _connection():
    conn = getattr(_local, "conn", None)
    if conn is None:
        if SQLITE:
            import sqlite3

            conn = sqlite3.connect(URL.split("///", 1)[1], timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        else:
            import psycopg

            conn = psycopg.connect(URL.replace("postgresql+psycopg", "postgresql"))
            # As the gateway's setup pool: the commit does not wait for the disk.
            conn.execute("SET synchronous_commit TO OFF")
            conn.commit()
        _local.conn = conn
    return conn


def _user_id(conn) -> int:
    if getattr(_local, "user_id", None) is None:
        _local.user_id = conn.execute("SELECT min(id) FROM users").fetchone()[0]
        if not SQLITE:
            conn.commit()
    return _local.user_id


def _at(moment: datetime):
    # As SQLAlchemy stores a DateTime on SQLite: naive UTC text.
    return str(moment.replace(tzinfo=None)) if SQLITE else moment


@contextmanager
def _writing(conn):
    """One write transaction; on SQLite queued on the gateway's writer lock file, as the
    gateway queues (SQLite's own busy handler sleeps through the moment a lock frees)."""
    if not SQLITE:
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        return
    fcntl.flock(_writer(), fcntl.LOCK_EX)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        fcntl.flock(_writer(), fcntl.LOCK_UN)


def _writer() -> int:
    if getattr(_local, "writer", None) is None:
        _local.writer = os.open(URL.split("///", 1)[1] + ".writer", os.O_RDWR | os.O_CREAT, 0o600)
    return _local.writer


@app.post("/cxml")
def cxml():
    raw = request.get_data()
    root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    payload = root.get("payloadID")
    email = root.findtext(".//Extrinsic[@name='UserEmail']") or ""
    document = raw.decode("utf-8")
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    answer = ANSWER.format(payload=payload, now=now.isoformat(), token=token)
    _store(
        now,
        token,
        session=("cxml", root.findtext(".//BuyerCookie") or "", payload, "1.2.069"),
        logged=("cxml", "POST", "/cxml", "NetworkID/AN01000000001", "PunchOutSetupRequest"),
        payload=payload,
        email=email,
        status=(200, 200),
        size=len(raw),
        document=document,
        events=[
            ("document.in", f"PunchOutSetupRequest received ({payload})", document),
            ("session.created", f"create session for {email}; StartPage issued", None),
            ("document.out", "Response 200 sent", answer),
        ],
    )
    return Response(answer.encode(), content_type="text/xml")


@app.get("/oci/<buyer>")
def oci(buyer: str):
    """An OCI catalog call: the same rows, the call's fields as the stored document."""
    fields = request.args
    email = fields.get("email", "")
    document = "\n".join(
        f"{name}={'[redacted]' if name == 'PASSWORD' else value}" for name, value in fields.items()
    )
    token = secrets.token_urlsafe(32)
    _store(
        datetime.now(UTC),
        token,
        session=("oci", None, None, None),
        logged=("oci", "GET", f"/oci/{buyer}", fields.get("USERNAME", ""), "OCI call"),
        payload=None,
        email=email,
        status=(302, None),
        size=0,
        document=document,
        events=[
            ("oci.call", "OCI call, FUNCTION=none", None),
            ("auth.ok", f"authenticated OCI user {fields.get('USERNAME')}", None),
            ("start", "StartPage opened", None),
        ],
    )
    return Response(status=302, headers={"Location": f"/shop/?session={token}"})


def _store(now, token, session, logged, payload, email, status, size, document, events) -> None:
    conn = _connection()
    user_id = _user_id(conn)  # read once, before the first write transaction
    protocol, cookie, payload_id, version = session
    with _writing(conn):
        session_id = conn.execute(
            SESSION.format(_marks(13)),
            (
                "acme",
                user_id,
                protocol,
                "create",
                "open",
                cookie,
                "http://127.0.0.1:8000/demo/received/acme/cart",
                payload_id,
                version,
                json.dumps({"identity": {"email": email}, "user_agent": "bench"}),
                hashlib.sha256(token.encode()).hexdigest(),
                _at(now + timedelta(minutes=5)),
                _at(now),
            ),
        ).fetchone()[0]
        request_id = secrets.token_hex(16)
        channel, method, path, sender, doc_type = logged
        http_status, cxml_code = status
        conn.execute(
            REQUEST.format(_marks(17)),
            (
                _at(now),
                request_id,
                channel,
                method,
                path,
                "acme",
                sender,
                email,
                doc_type,
                payload,
                http_status,
                cxml_code,
                False,
                0,
                size,
                session_id,
                document,
            ),
        )
        rows = [
            (_at(now), "acme", session_id, kind, "info", message, "{}", doc, request_id)
            for kind, message, doc in events
        ]
        conn.cursor().executemany(EVENT.format(_marks(9)), rows)


CART_SESSION = "SELECT id, buyer_id FROM punchout_sessions WHERE session_token_hash = {}"
CART_LINES = (
    "SELECT id, sku, quantity, unit_price, list_price, contract_price, currency, description,"
    " uom FROM cart_lines WHERE session_id = {} ORDER BY position"
)
CART_UPDATE = "UPDATE cart_lines SET quantity = {} WHERE id = {}"


@app.post("/api/v1/punchout/cart/items")
def add_item():
    """Add to cart on a line the cart has: read the session and its lines, raise the
    line's quantity, log the request and one event, answer the cart as JSON."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    body = request.get_json()
    sku, more = body["sku"], Decimal(str(body["quantity"]))
    conn = _connection()
    now = datetime.now(UTC)
    request_id = secrets.token_hex(16)
    with _writing(conn):
        found = conn.execute(
            CART_SESSION.format(_marks(1)), (hashlib.sha256(token.encode()).hexdigest(),)
        ).fetchone()
        if found is None:
            return Response(status=401)
        session_id, buyer_id = found
        lines = [list(row) for row in conn.execute(CART_LINES.format(_marks(1)), (session_id,))]
        line = next((row for row in lines if row[1] == sku), None)
        if line is None:  # the script fills every cart with every SKU first
            return Response(status=409)
        line[2] = Decimal(str(line[2])) + more
        conn.execute(
            CART_UPDATE.format(*_marks(2).split(", ")),
            (str(line[2]) if SQLITE else line[2], line[0]),
        )
        conn.execute(
            REQUEST.format(_marks(17)),
            (
                _at(now),
                request_id,
                "session_api",
                "POST",
                request.path,
                buyer_id,
                None,
                None,
                "add_item",
                None,
                200,
                None,
                False,
                0,
                len(request.get_data()),
                session_id,
                request.get_data(as_text=True),
            ),
        )
        conn.execute(
            EVENT.format(_marks(9)),
            (
                _at(now),
                buyer_id,
                session_id,
                "cart.add",
                "info",
                f"added {more} x {sku}",
                json.dumps({"sku": sku, "quantity": str(more)}),
                None,
                request_id,
            ),
        )
    items = []
    total = Decimal(0)
    for line_id, sku_, quantity, unit, listed, contract, currency, description, uom in lines:
        quantity, unit = Decimal(str(quantity)), Decimal(str(unit))
        total += quantity * unit
        items.append(
            {
                "sku": sku_,
                "line_id": str(line_id),
                "description": description,
                "quantity": str(quantity),
                "unit_price": f"{unit:.2f}",
                "list_price": f"{Decimal(str(listed)):.2f}",
                "contract_price": None if contract is None else f"{Decimal(str(contract)):.2f}",
                "currency": currency,
                "uom": uom,
                "line_total": f"{quantity * unit:.2f}",
            }
        )
    return jsonify({"items": items, "total": f"{total:.2f}", "currency": "EUR"})
