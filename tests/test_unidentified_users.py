"""Setup requests that name no person: the login's generic user, or a clear 401."""

from __future__ import annotations

from sqlalchemy import select

from gateway.models import Event, PunchoutSession, User
from tests.conftest import DEMO, write_buyers
from tests.documents import setup_request, status


def sessions_and_users(gateway):
    with gateway.db.transaction() as db:
        users = {u.id: u.unique_name for u in db.scalars(select(User))}
        sessions = db.scalars(select(PunchoutSession).order_by(PunchoutSession.id))
        return [users.get(s.user_id) for s in sessions], users


def test_only_a_buyer_cookie_gets_the_logins_generic_user(client, demo):
    for cookie in ("c-1", "c-2"):
        body = setup_request(cookie=cookie, extrinsics={"CostCenter": "4711"})
        code, text = status(client.post("/cxml", data=body).data)
        assert code == 200, text
    owners, users = sessions_and_users(demo)
    assert owners == ["generic:NetworkID/AN01000000001"] * 2
    assert len(users) == 1  # one generic user per login, not one per request
    with demo.db.transaction() as db:
        messages = list(
            db.scalars(select(Event.message).where(Event.kind == "user.generic").order_by(Event.id))
        )
    assert len(messages) == 2 and "(created)" in messages[0]
    assert "generic user 'generic:NetworkID/AN01000000001'" in messages[1]


def test_a_named_person_is_never_the_generic_user(client, demo):
    client.post("/cxml", data=setup_request(extrinsics={}))
    client.post("/cxml", data=setup_request(extrinsics={"UserEmail": "jo@acme.example"}))
    owners, _ = sessions_and_users(demo)
    assert owners[0].startswith("generic:") and owners[1] is None  # jo has no unique name
    with demo.db.transaction() as db:
        assert db.scalar(select(User.email).where(User.email == "jo@acme.example"))


def test_buyer_can_require_a_person(client, demo, tmp_path):
    text = (DEMO / "buyers.toml").read_text()
    text = text.replace(
        "[buyer.provisioning]\n", '[buyer.provisioning]\nunidentified_users = "refuse"\n', 1
    )
    write_buyers(demo, tmp_path, text)
    code, text = status(client.post("/cxml", data=setup_request(extrinsics={})).data)
    assert code == 401
    assert "names no person" in text and "UserEmail" in text
    owners, users = sessions_and_users(demo)
    assert owners == [] and users == {}
