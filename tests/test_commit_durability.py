"""Which transactions wait for the disk on PostgreSQL: orders always, setups not.

A setup request or a plain OCI call that a database crash loses is made again by its
user; an acknowledged order must survive the crash (README, Operations).
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.documents import order_request, setup_request, status
from tests.test_oci_endpoint import call

ASYNC = "SET LOCAL synchronous_commit TO OFF"


@pytest.fixture
def statements(gateway, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no per-transaction commit durability")
    seen: list[str] = []

    def listen(_conn, _cursor, statement, *_rest):
        seen.append(statement)

    event.listen(gateway.db.engine, "before_cursor_execute", listen)
    yield seen
    event.remove(gateway.db.engine, "before_cursor_execute", listen)


def test_a_setup_request_commits_without_waiting_for_the_disk(client, demo, statements):
    assert status(client.post("/cxml", data=setup_request()).data)[0] == 200
    assert ASYNC in statements


def test_an_order_waits_for_the_disk(client, demo, statements):
    body = order_request([{"sku": "NW-1001", "qty": "1", "price": "14.90"}])
    assert status(client.post("/cxml", data=body).data)[0] == 200
    assert ASYNC not in statements


def test_only_oci_calls_that_send_a_cart_back_wait_for_the_disk(client, demo, statements):
    assert call(client).status_code == 302
    assert ASYNC in statements
    statements.clear()
    assert call(client, FUNCTION="VALIDATE", PRODUCTID="NW-1001", QUANTITY="1").status_code == 200
    assert ASYNC not in statements


def test_the_setting_is_local_to_its_transaction(gateway, statements):
    with gateway.db.transaction(durable=False) as db:
        assert db.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
    with gateway.db.transaction() as db:
        assert db.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
