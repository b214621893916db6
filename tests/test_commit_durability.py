"""Which transactions wait for the disk on PostgreSQL: orders always, setups not.

A setup request, a plain OCI call or a cart change that a database crash loses is made
again by its user; an acknowledged order, and the transfer that sends a cart back, must
survive the crash (README, Operations).
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.documents import order_request, setup_request, status
from tests.helpers import bearer, open_session
from tests.test_oci_endpoint import call

ASYNC = "off"  # synchronous_commit of the connection a commit ran on


@pytest.fixture
def commits(gateway, database_url):
    """The ``synchronous_commit`` setting of every connection a commit ran on."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no per-transaction commit durability")
    seen: list[str] = []

    def listen(conn):
        with conn.connection.dbapi_connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])

    for engine in gateway.db.engines:
        event.listen(engine, "commit", listen)
    yield seen
    for engine in gateway.db.engines:
        event.remove(engine, "commit", listen)


def test_a_setup_request_commits_without_waiting_for_the_disk(client, demo, commits):
    assert status(client.post("/cxml", data=setup_request()).data)[0] == 200
    assert ASYNC in commits


def test_an_order_waits_for_the_disk(client, demo, commits):
    body = order_request([{"sku": "NW-1001", "qty": "1", "price": "14.90"}])
    assert status(client.post("/cxml", data=body).data)[0] == 200
    assert commits and ASYNC not in commits


def test_only_oci_calls_that_send_a_cart_back_wait_for_the_disk(client, demo, commits):
    assert call(client).status_code == 302
    assert ASYNC in commits
    commits.clear()
    assert call(client, FUNCTION="VALIDATE", PRODUCTID="NW-1001", QUANTITY="1").status_code == 200
    assert commits and ASYNC not in commits


def test_of_a_cart_only_the_transfer_waits_for_the_disk(client, demo, commits):
    token = open_session(client)
    commits.clear()
    r = client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-1001", "quantity": 2}, headers=bearer(token)
    )
    assert r.status_code == 200
    assert commits and set(commits) == {ASYNC}
    commits.clear()
    r = client.post("/shop/cart", data={"session": token, "sku": "NW-1002", "action": "add"})
    assert r.status_code in (200, 302, 303)
    assert commits and set(commits) == {ASYNC}
    commits.clear()
    assert client.get(f"/shop/cart?session={token}").status_code == 200  # a page: reads
    assert set(commits) <= {ASYNC}
    commits.clear()
    assert client.post("/api/v1/punchout/transfer", headers=bearer(token)).status_code == 200
    assert commits and ASYNC not in commits


def test_the_setting_stays_with_its_pool(gateway, commits):
    for _ in range(2):  # and survives a rolled-back transaction on the same connection
        with gateway.db.transaction(durable=False) as db:
            assert db.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        with gateway.db.transaction() as db:
            assert db.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        with pytest.raises(RuntimeError), gateway.db.transaction(durable=False) as db:
            db.connection().exec_driver_sql("SET synchronous_commit TO ON")
            raise RuntimeError("rolled back")
