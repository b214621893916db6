"""Statements run on the driver's cursor behave as SQLAlchemy's execute would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gateway.models import Event, PunchoutSession
from gateway.statements import VALUES_ROWS, Prepared

INSERT_EVENT = Prepared(insert(Event.__table__))
INSERT_SESSION = Prepared(insert(PunchoutSession.__table__).returning(PunchoutSession.id))
READ_EVENT = Prepared(
    select(Event.at, Event.data, Event.document).where(Event.kind == "test.prepared")
)


def _event(**values) -> dict:
    return {
        "at": datetime(2026, 12, 3, 14, 30, 1, 123456, tzinfo=UTC),
        "kind": "test.prepared",
        "message": "m",
        "buyer_id": None,
        "session_id": None,
        "level": "info",
        "data": {"nested": ["ä", 1, None], "n": 2},
        "document": "<x/>",
        "request_id": None,
        **values,
    }


def test_values_come_back_as_sqlalchemy_stores_and_reads_them(gateway):
    with gateway.db.transaction() as db:
        INSERT_EVENT.insert(db.connection(), [_event(), _event(document=None)])
        found = READ_EVENT.first(db.connection())
    with gateway.db.transaction() as db:
        rows = db.scalars(select(Event).where(Event.kind == "test.prepared")).all()
    assert len(rows) == 2
    assert {r.data["nested"][0] for r in rows} == {"ä"}
    assert rows[0].at == datetime(2026, 12, 3, 14, 30, 1, 123456, tzinfo=UTC)
    # The same conversions on the way out: a datetime, a JSON object.
    assert found == (rows[0].at, {"nested": ["ä", 1, None], "n": 2}, "<x/>")


@pytest.mark.parametrize("count", [3, VALUES_ROWS, VALUES_ROWS + 1])
def test_many_rows_are_stored_each_with_its_own_values(gateway, count):
    # Up to VALUES_ROWS rows go as one multi-row VALUES on PostgreSQL, more by executemany.
    rows = [
        _event(
            message=f"row {i}", data={"i": i, "text": "50% off"}, document=None if i % 2 else "<d/>"
        )
        for i in range(count)
    ]
    with gateway.db.transaction() as db:
        INSERT_EVENT.insert(db.connection(), rows)
    with gateway.db.transaction() as db:
        stored = db.scalars(
            select(Event).where(Event.kind == "test.prepared").order_by(Event.id)
        ).all()
    assert [(e.message, e.data, e.document) for e in stored] == [
        (f"row {i}", {"i": i, "text": "50% off"}, None if i % 2 else "<d/>") for i in range(count)
    ]


def test_a_returning_insert_gives_the_new_id(gateway, demo):
    row = {
        "buyer_id": "acme",
        "protocol": "cxml",
        "operation": "create",
        "status": "open",
        "details": {},
        "created_at": datetime.now(UTC),
    }
    with gateway.db.transaction() as db:
        first = INSERT_SESSION.insert(db.connection(), [row])
        second = INSERT_SESSION.insert(db.connection(), [row])
        assert db.get(PunchoutSession, second).buyer_id == "acme"
    assert second == first + 1


def test_a_refused_row_raises_sqlalchemys_exception_and_rolls_back(gateway):
    with pytest.raises(IntegrityError), gateway.db.transaction() as db:
        INSERT_EVENT.insert(db.connection(), [_event(message="kept?")])
        INSERT_EVENT.insert(db.connection(), [_event(kind=None)])  # NOT NULL
    with gateway.db.transaction() as db:
        assert db.scalar(select(Event.id).where(Event.message == "kept?")) is None


def test_a_connection_the_server_dropped_is_invalidated(gateway, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no server connection to lose")
    with gateway.db.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    with pytest.raises(DBAPIError) as raised, gateway.db.transaction() as db:
        INSERT_EVENT.insert(db.connection(), [_event()])
    assert raised.value.connection_invalidated
    with gateway.db.transaction() as db:  # the pool was replaced: the next one works
        INSERT_EVENT.insert(db.connection(), [_event()])


def test_amounts_come_back_as_decimals(gateway, demo):
    # psycopg converts NUMERIC by the type code of the cursor's description.
    from decimal import Decimal

    from gateway.models import Product

    read = Prepared(select(Product.unit_price, Product.sku).where(Product.sku == "NW-1001"))
    with gateway.db.transaction() as db:
        price, sku = read.first(db.connection())
        expected = db.scalar(select(Product.unit_price).where(Product.sku == "NW-1001"))
    assert sku == "NW-1001" and isinstance(price, Decimal) and price == expected


def test_a_bulk_insert_stores_what_one_insert_per_row_stores(gateway, demo):
    # PostgreSQL loads the rows with COPY: the values must arrive as the INSERT binds them.
    from decimal import Decimal

    from gateway.models import Order, OrderLine

    lines = Prepared(insert(OrderLine.__table__))
    with gateway.db.transaction() as db:
        orders = [
            Order(buyer_id="acme", order_id=f"PO-{n}", payload_id=f"p{n}", body_sha256="-")
            for n in (1, 2)
        ]
        db.add_all(orders)
        db.flush()
        rows = [
            {
                "order_pk": orders[0].id,
                "line_number": 1 + i,
                "sku": "NW-1001",
                "aux_id": None if i else "tab\there, new\nline, back\\slash, quote\" 'ä'",
                "quantity": Decimal("12.5000") if i else Decimal("-0"),
                "unit_price": None if i else Decimal("0.0001"),
                "currency": "USD",
                "description": "\\N" if i else "",
                "details": {"extrinsics": {"a\tb": "c\\nd"}, "n": [1, None, "é"]} if i else {},
            }
            for i in range(3)
        ]
        lines.insert_all(db.connection(), rows)
        one_by_one = [{**row, "order_pk": orders[1].id} for row in rows]
        for row in one_by_one:
            lines.insert(db.connection(), [row])
    columns = [c for c in OrderLine.__table__.columns if c.key not in ("id", "order_pk")]
    with gateway.db.transaction() as db:
        stored = [
            db.execute(
                select(*columns).where(OrderLine.order_pk == order.id).order_by(OrderLine.id)
            ).all()
            for order in orders
        ]
    assert len(stored[0]) == 3
    assert stored[0] == stored[1]
    assert stored[0][0].aux_id == rows[0]["aux_id"] and stored[0][2].description == "\\N"
    assert stored[0][1].details == rows[1]["details"]


def test_a_refused_row_of_a_bulk_insert_raises_sqlalchemys_exception(gateway):
    from gateway.models import OrderLine

    row = {"order_pk": 999999, "line_number": 1, "sku": "X", "quantity": 1, "details": {}}
    with pytest.raises(IntegrityError), gateway.db.transaction() as db:
        Prepared(insert(OrderLine.__table__)).insert_all(db.connection(), [row, row])


def test_every_row_comes_back_converted(gateway, demo):
    from decimal import Decimal

    from gateway.models import Product

    statement = select(Product.sku, Product.unit_price).order_by(Product.sku).limit(3)
    read = Prepared(statement)
    none = Prepared(statement.where(Product.sku == "no such product"))
    with gateway.db.transaction() as db:
        found = read.all(db.connection())
        expected = [tuple(row) for row in db.execute(statement)]
        assert none.all(db.connection()) == []
    assert len(found) == 3 and found == expected
    assert all(isinstance(price, Decimal) for _, price in found)


def test_an_update_runs_with_the_columns_types(gateway, demo):
    from decimal import Decimal

    from sqlalchemy import bindparam, update

    from gateway.models import Product

    table = Product.__table__
    change = Prepared(
        update(table).where(table.c.sku == bindparam("key")).values(unit_price=bindparam("price"))
    )
    with gateway.db.transaction() as db:
        change.run(db.connection(), {"key": "NW-1001", "price": Decimal("13.5")})
    with gateway.db.transaction() as db:
        assert db.scalar(select(Product.unit_price).where(Product.sku == "NW-1001")) == Decimal(
            "13.5"
        )
