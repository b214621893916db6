"""Concurrent changes to one cart (a double click, two tabs): none lost, none a 500."""

from __future__ import annotations

import threading

from sqlalchemy import select

from gateway.models import CartLine
from tests.helpers import bearer, open_session


def test_concurrent_adds_of_one_product_all_count(app, demo):
    token = open_session(app.test_client())
    answers: list[int] = []
    start = threading.Barrier(8)

    def add():
        client = app.test_client()
        start.wait()
        for _ in range(5):
            r = client.post(
                "/api/v1/punchout/cart/items",
                json={"sku": "NW-1001", "quantity": 1},
                headers=bearer(token),
            )
            answers.append(r.status_code)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == [200] * 40
    with demo.db.transaction() as db:
        (line,) = db.scalars(select(CartLine)).all()
        assert line.sku == "NW-1001" and line.quantity == 40
