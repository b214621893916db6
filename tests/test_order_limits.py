"""Lines per OrderRequest (PUNCHGATE_MAX_ORDER_LINES) and the quantity ranges the README states."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway import create_app
from gateway.config import Settings
from gateway.models import Order
from tests.documents import order_request, status
from tests.helpers import bearer, open_session


@pytest.fixture
def small_app(settings, demo):
    app = create_app(Settings(**{**settings.__dict__, "max_order_lines": 3}))
    yield app
    app.extensions["punchgate"].db.dispose()


def orders(gateway) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(select(func.count()).select_from(Order))


def lines(n: int) -> list[dict]:
    return [{"sku": "NW-1001", "qty": "1", "price": "12.90"} for _ in range(n)]


def test_an_order_over_the_line_limit_is_refused_naming_the_limit(small_app, demo):
    client = small_app.test_client()
    code, text = status(client.post("/cxml", data=order_request(lines(4), order_id="PO-4")).data)
    assert code == 406
    assert "4 ItemOut lines, over the limit of 3 lines per order" in text
    assert orders(demo) == 0
    code, _ = status(client.post("/cxml", data=order_request(lines(3), order_id="PO-3")).data)
    assert code == 200 and orders(demo) == 1


def test_the_line_limit_is_a_setting_with_a_default_of_50000():
    env = {"PUNCHGATE_DATABASE_URL": "sqlite:///:memory:", "PUNCHGATE_SECRET_KEY": "k" * 32}
    assert Settings.from_env(env).max_order_lines == 50_000
    assert Settings.from_env({**env, "PUNCHGATE_MAX_ORDER_LINES": "7"}).max_order_lines == 7


@pytest.mark.parametrize(
    "qty, code", [("999999999999", 200), ("1000000000000", 406), ("0.0000000001", 200)]
)
def test_order_line_quantities_go_up_to_999999999999(client, demo, qty, code):
    body = order_request([{"sku": "NW-1001", "qty": qty, "price": "1.00"}], order_id=f"PO-{qty}")
    assert status(client.post("/cxml", data=body).data)[0] == code


@pytest.mark.parametrize("qty, ok", [(1_000_000, True), (1_000_001, False)])
def test_cart_quantities_go_up_to_1000000(client, demo, qty, ok):
    token = open_session(client)
    r = client.post(
        "/api/v1/punchout/cart/items",
        json={"sku": "NW-1001", "quantity": qty},
        headers=bearer(token),
    )
    assert (r.status_code == 200) is ok, r.json
