from decimal import Decimal

import pytest

from gateway.marketplace.catalog import CatalogError, load_catalog, product_for, search
from tests.conftest import DEMO

COLUMNS = "sku,description,unit_price,currency,uom,unspsc,manufacturer,manufacturer_part_id,lead_time_days"


def load(gateway, tmp_path, text):
    path = tmp_path / "c.csv"
    path.write_text(text)
    with gateway.db.transaction() as db:
        return load_catalog(db, path)


def test_demo_catalog_with_contract_prices(demo):
    with demo.db.transaction() as db:
        acme = product_for(db, "acme", "NW-1001")
        globex = product_for(db, "globex", "NW-1001")
        hits, total = search(db, "acme", "würth")
    assert (acme.price, acme.list_price, acme.contract_price) == (
        Decimal("12.90"),
        Decimal("14.90"),
        Decimal("12.90"),
    )
    assert globex.price == Decimal("14.90") and globex.contract_price is None
    assert total == 3


def test_reload_is_idempotent(demo, tmp_path):
    with demo.db.transaction() as db:
        again = load_catalog(db, DEMO / "catalog.csv")
    assert again == (28, 5)


@pytest.mark.parametrize(
    "text, words",
    [
        ("sku,description\nA,b\n", "missing column(s): unit_price"),
        (COLUMNS + ",colour\n", "unknown column(s): colour"),
        (COLUMNS + "\nA,Thing,abc,USD,EA,,,,\n", "line 2: unit_price 'abc' is not a number"),
        (COLUMNS + "\nA,Thing,-1,USD,EA,,,,\n", "line 2: unit_price must be a non-negative"),
        (COLUMNS + "\n,Thing,1,USD,EA,,,,\n", "line 2: sku is empty"),
        (COLUMNS + "\nA,Thing,1,USD,EA,,,,soon\n", "lead_time_days 'soon'"),
        (
            COLUMNS + ",buyer_id,contract_price\nA,,,,,,,,,nobody,1\n",
            "buyer_id 'nobody' is not a loaded buyer",
        ),
    ],
)
def test_errors_name_line_and_column(gateway, tmp_path, text, words):
    with pytest.raises(CatalogError) as info:
        load(gateway, tmp_path, text)
    assert words in str(info.value)
