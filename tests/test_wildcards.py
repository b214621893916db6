"""SAP wildcard semantics in every filter: * is a wildcard, % and _ are themselves."""

from __future__ import annotations

import pytest

from gateway.models import PunchoutSession, User
from gateway.support import queries
from gateway.wildcards import like_pattern


@pytest.mark.parametrize(
    "term, contains, pattern",
    [
        ("abc", False, "abc"),
        ("abc", True, "%abc%"),
        ("a*c", True, "a%c"),  # with a wildcard the term says where the ends are
        ("*", False, "%"),
        ("100%", True, "%100\\%%"),
        ("a_b", False, "a\\_b"),
        ("back\\slash*", False, "back\\\\slash%"),
    ],
)
def test_like_pattern(term, contains, pattern):
    assert like_pattern(term, contains=contains) == pattern


@pytest.fixture
def people(demo):
    with demo.db.transaction() as db:
        for n, email in enumerate(["a_b@x.example", "axb@x.example", "sales100%@x.example"]):
            user = User(buyer_id="acme", email=email, name=f"Person {n}", unique_name=f"U{n}")
            db.add(user)
            db.flush()
            db.add(
                PunchoutSession(
                    buyer_id="acme",
                    user_id=user.id,
                    protocol="cxml",
                    operation="create",
                    buyer_cookie=f"COOKIE_{n}",
                )
            )
    return demo


def emails(gateway, term):
    with gateway.db.transaction() as db:
        return sorted(found["user"].email for found in queries.callers(db, term))


def cookies(gateway, **filters):
    with gateway.db.transaction() as db:
        rows, _ = queries.list_sessions(db, queries.SessionFilter(**filters))
        return sorted(s.buyer_cookie for s in rows)


def test_console_caller_lookup(people):
    assert emails(people, "a_b") == ["a_b@x.example"]  # _ is not "any one character"
    assert emails(people, "100%") == ["sales100%@x.example"]
    assert emails(people, "%") == ["sales100%@x.example"]  # % is not "anything"
    assert emails(people, "a*b@*") == ["a_b@x.example", "axb@x.example"]
    assert len(emails(people, "*")) == 3


def test_console_session_filters(people):
    assert cookies(people, q="COOKIE_*") == ["COOKIE_0", "COOKIE_1", "COOKIE_2"]
    assert cookies(people, q="COOKIE_1") == ["COOKIE_1"]
    assert cookies(people, q="COOKIE%") == []
    assert cookies(people, q="*@x.example") == ["COOKIE_0", "COOKIE_1", "COOKIE_2"]
    assert cookies(people, user="a_b@*") == ["COOKIE_0"]
    assert cookies(people, user="a%b@*") == []


def test_console_order_and_request_searches(people):
    from gateway.models import InboundRequest, Order
    from gateway.support import orders, requests

    with people.db.transaction() as db:
        for n, po in enumerate(["4500012345", "4500012346", "45000_2347", "9900000001"]):
            db.add(
                Order(
                    buyer_id="acme",
                    order_id=po,
                    payload_id=f"pl-{po}@buyer.example",
                    body_sha256=f"{n:064d}",
                )
            )
            db.add(
                InboundRequest(
                    request_id=f"req-{po}",
                    channel="cxml",
                    method="POST",
                    path="/cxml",
                    payload_id=f"pl-{po}@buyer.example",
                    http_status=200,
                )
            )

    def pos(q):
        with people.db.transaction() as db:
            rows, _ = orders.list_orders(db, orders.OrderFilter(q=q))
            return sorted(o.order_id for o in rows)

    def reqs(q):
        with people.db.transaction() as db:
            rows, _ = requests.list_requests(db, requests.RequestFilter(q=q))
            return sorted(r.request_id for r in rows)

    assert pos("4500012345") == ["4500012345"]
    assert pos("450001*") == ["4500012345", "4500012346"]
    assert pos("45000_*") == ["45000_2347"]  # _ is itself
    assert pos("4500%") == []
    assert len(pos("*")) == 4
    assert reqs("req-450001*") == ["req-4500012345", "req-4500012346"]
    assert reqs("pl-9900*") == ["req-9900000001"]
    assert reqs("req-4500%") == []
