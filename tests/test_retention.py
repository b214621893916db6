"""Retention of the session log: old documents cleared, old sessions without an order deleted."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.cli import main
from gateway.models import CartLine, Event, Order, PunchoutSession, utcnow
from gateway.sessions.retention import purge
from tests.conftest import SECRET_KEY
from tests.helpers import add_items, open_session


def age(gateway, cookie: str, days: int) -> int:
    with gateway.db.transaction() as db:
        session = db.scalars(
            select(PunchoutSession).where(PunchoutSession.buyer_cookie == cookie)
        ).one()
        session.created_at = utcnow() - timedelta(days=days)
        return session.id


def documents(gateway, session_id: int) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.session_id == session_id, Event.document.is_not(None))
        )


def test_purge_keeps_what_orders_need_and_the_timeline(client, demo):
    ids = {}
    for cookie, days in (("old", 400), ("ordered", 400), ("middle", 120), ("new", 1)):
        token = open_session(client, cookie=cookie)
        add_items(client, token, [("NW-1001", 1)])
        ids[cookie] = age(demo, cookie, days)
    with demo.db.transaction() as db:
        db.add(
            Order(
                buyer_id="acme",
                session_id=ids["ordered"],
                order_id="PO-1",
                payload_id="po-1@acme.example",
                body_sha256="0" * 64,
            )
        )
    assert all(documents(demo, i) for i in ids.values())
    kept_with_documents = documents(demo, ids["ordered"]) + documents(demo, ids["middle"])

    cleared, deleted = purge(demo.db, document_days=90, session_days=365, batch=1)
    assert (cleared, deleted) == (kept_with_documents, 1)
    with demo.db.transaction() as db:
        left = set(db.scalars(select(PunchoutSession.buyer_cookie)))
        orphans = db.scalar(
            select(func.count()).select_from(Event).where(Event.session_id == ids["old"])
        )
        lines = db.scalar(
            select(func.count()).select_from(CartLine).where(CartLine.session_id == ids["old"])
        )
        timeline = db.scalar(
            select(func.count()).select_from(Event).where(Event.session_id == ids["middle"])
        )
    assert left == {"ordered", "middle", "new"} and orphans == 0 and lines == 0
    # The ordered session keeps its events but not their documents; so does the middle one.
    assert documents(demo, ids["ordered"]) == 0 and documents(demo, ids["middle"]) == 0
    assert timeline >= 2 and documents(demo, ids["new"]) > 0
    assert purge(demo.db) == (0, 0)  # nothing left to do: a second run is a no-op


def test_purge_from_the_command_line(client, demo, settings, monkeypatch):
    open_session(client, cookie="old")
    age(demo, "old", 500)
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    runner = CliRunner()
    r = runner.invoke(main, ["sessions", "purge", "--document-days", "400", "--session-days", "30"])
    assert r.exit_code == 1 and "--session-days must not be shorter" in r.output
    r = runner.invoke(main, ["sessions", "purge"])
    assert r.exit_code == 0, r.output
    assert r.output == (
        "cleared 0 event document(s) of sessions older than 90 days, "
        "deleted 1 session(s) without an order older than 365 days\n"
    )
