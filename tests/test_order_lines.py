"""Order lines as real buyer systems send them, and refusals a buyer's staff can act on."""

from __future__ import annotations

import gc
import json

import pytest
from sqlalchemy import func, select

from gateway.models import Event, Order, OutboxMessage
from tests.conftest import demo_buyers_with, write_buyers
from tests.documents import envelope, order_request, status
from tests.helpers import sign_in, transferred_cart


def item(
    number="1",
    qty="1",
    sku="NW-1001",
    price="14.90",
    *,
    aux="",
    buyer_part="",
    mpn="",
    basis="",
    ad_hoc=False,
    description="item",
):
    ids = f"<SupplierPartID>{sku}</SupplierPartID>"
    if aux:
        ids += f"<SupplierPartAuxiliaryID>{aux}</SupplierPartAuxiliaryID>"
    if buyer_part:
        ids += f"<BuyerPartID>{buyer_part}</BuyerPartID>"
    number_attr = f' lineNumber="{number}"' if number is not None else ""
    adhoc_attr = ' isAdHoc="yes"' if ad_hoc else ""
    mpn_xml = f"<ManufacturerPartID>{mpn}</ManufacturerPartID>" if mpn else ""
    return (
        f'<ItemOut quantity="{qty}"{number_attr}{adhoc_attr}><ItemID>{ids}</ItemID>'
        f'<ItemDetail><UnitPrice><Money currency="USD">{price}</Money></UnitPrice>'
        f'<Description xml:lang="en">{description}</Description>'
        f"<UnitOfMeasure>BX</UnitOfMeasure>{basis}"
        f'<Classification domain="UNSPSC">1</Classification>{mpn_xml}'
        f"</ItemDetail></ItemOut>"
    )


def order(
    *items,
    order_id="PO-77",
    kind="new",
    header_attrs="",
    total="100.00",
    extra_header="",
    **kw,
) -> bytes:
    body = (
        f'<OrderRequest><OrderRequestHeader orderID="{order_id}" '
        f'orderDate="2026-11-24T10:00:00-05:00" type="{kind}"{header_attrs}>'
        f'<Total><Money currency="USD">{total}</Money></Total>{extra_header}'
        f"</OrderRequestHeader>{''.join(items)}</OrderRequest>"
    )
    return envelope(body, **kw)


def post(client, body):
    return status(client.post("/cxml", data=body, content_type="text/xml").data)


def stored(gateway) -> list[Order]:
    with gateway.db.transaction() as db:
        found = list(db.scalars(select(Order).order_by(Order.id)))
        for o in found:
            _ = [(line.sku, line.details) for line in o.lines]
        return found


def payload(gateway) -> dict:
    with gateway.db.transaction() as db:
        message = db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "marketplace.order"))
        return json.loads(message.payload)["order"]


def test_service_line_without_supplier_part_is_accepted_and_flagged(client, demo):
    code, text = post(
        client,
        order(
            item("1", "2", "NW-1001", "14.90"),
            item("2", "1", "", "500.00", buyer_part="SRV-INSTALL", description="Installation"),
            item("3", "1", "", "80.00", ad_hoc=True, description="Free text: safety briefing"),
        ),
    )
    assert code == 200, text
    [o] = stored(demo)
    assert [line.sku for line in o.lines] == ["NW-1001", "", ""]
    flags = {f["line"]: f for f in o.details["flags"] if f["kind"] == "unidentified_line"}
    assert sorted(flags) == [2, 3]
    assert "BuyerPartID 'SRV-INSTALL'" in flags[2]["message"]
    assert "non-catalog" in flags[3]["message"]
    lines = payload(demo)["lines"]
    assert lines[1]["buyer_part_id"] == "SRV-INSTALL" and lines[1]["matched"] is False
    assert lines[1]["description"] == "Installation" and lines[1]["unit_price"] == "500.00"
    assert lines[2]["ad_hoc"] is True and lines[0]["matched"] is True
    with demo.db.transaction() as db:
        kinds = list(db.scalars(select(Event.kind).where(Event.kind == "order.flagged")))
    assert len(kinds) == 2  # support sees one event per unidentified line


def test_support_sees_the_unidentified_line(client, agents):
    post(client, order(item("7", "1", "", "90.00", buyer_part="SRV-1", description="Calibration")))
    [o] = stored(agents)
    sign_in(client)
    page = client.get(f"/support/orders/{o.id}").get_data(as_text=True)
    assert "unidentified_line" in page
    assert "line 7: item line without SupplierPartID, not matched to the catalog" in page


def test_line_identified_by_manufacturer_part_or_cart_line(client, demo):
    # The demo catalog has Würth 0057 8 40 as NW-1001.
    [(sku, aux, price)] = transferred_cart(client, [("NW-1002", 1)])
    code, text = post(
        client,
        order(
            item("1", "1", "", "14.90", mpn="0057 8 40"),
            item("2", "1", "", price, aux=aux),
        ),
    )
    assert code == 200, text
    [o] = stored(demo)
    assert [(line.sku, line.details["identified_by"]) for line in o.lines] == [
        ("NW-1001", "ManufacturerPartID"),
        ("NW-1002", "SupplierPartAuxiliaryID"),
    ]
    assert not [f for f in o.details["flags"] if f["kind"] == "unidentified_line"]
    assert o.session_id is not None


def test_buyer_policy_can_refuse_unidentified_lines(client, demo, tmp_path):
    write_buyers(
        demo, tmp_path, demo_buyers_with('[buyer.orders]\nlines_without_part = "reject"\n')
    )
    code, text = post(client, order(item("10", "1", "", "5.00", description="Consulting")))
    assert code == 406
    assert "line 10" in text and "without SupplierPartID" in text
    assert stored(demo) == []


def test_pack_priced_line_matches_its_contract_price(client, demo):
    # ACME's contract price for NW-1001 is 12.90 a box; the buyer prices per 100
    # boxes (PriceBasisQuantity 100, conversionFactor 1): 1290.00 per 100 = 12.90.
    basis = (
        '<PriceBasisQuantity quantity="100" conversionFactor="1">'
        "<UnitOfMeasure>BX</UnitOfMeasure></PriceBasisQuantity>"
    )
    code, _ = post(client, order(item("1", "3", "NW-1001", "1290.00", basis=basis)))
    assert code == 200
    [o] = stored(demo)
    assert not [f for f in o.details["flags"] if f["kind"] == "price_vs_contract"]
    line = payload(demo)["lines"][0]
    assert line["effective_unit_price"] == "12.90"
    assert line["price_basis"] == {"quantity": "100", "conversion_factor": "1", "uom": "BX"}
    # Without the price basis the same price is a hundred times the contract: flagged.
    post(client, order(item("1", "3", "NW-1001", "1290.00"), order_id="PO-78"))
    flagged = stored(demo)[1].details["flags"]
    assert [f["kind"] for f in flagged] == ["price_vs_contract"]


def test_pack_priced_line_without_a_price_keeps_no_effective_price(client, demo):
    basis = (
        '<PriceBasisQuantity quantity="100" conversionFactor="1">'
        "<UnitOfMeasure>BX</UnitOfMeasure></PriceBasisQuantity>"
    )
    line = item("1", "3", "NW-1001", "1290.00", basis=basis)
    line = line.replace('<UnitPrice><Money currency="USD">1290.00</Money></UnitPrice>', "")
    code, _ = post(client, order(line))
    assert code == 200
    sent = payload(demo)["lines"][0]
    # Not the text "None": there is no price to apply the pack to.
    assert sent["effective_unit_price"] is None
    assert sent["price_basis"] == {"quantity": "100", "conversion_factor": "1", "uom": "BX"}


def test_every_problem_once_by_line_number(client, demo):
    code, text = post(
        client,
        order(
            item("10", "x"),
            item("20", "0"),
            item("30", "1", price="-1"),
            item("-1"),
            item("40", "1", price="1E+999999999"),
            header_attrs=' orderVersion="123456789012345678901234567890123456789012345678901"',
        ),
    )
    assert code == 406
    assert text.count("line 10: @quantity 'x' is not a number") == 1
    assert "line 20: @quantity '0' must be more than 0" in text
    assert "line 30: UnitPrice/Money '-1' must not be negative" in text
    assert "line -1: @lineNumber '-1' is not a whole number" in text
    assert "line 40: UnitPrice/Money '1E+999999999' is out of range" in text
    assert "orderVersion" in text
    assert "ItemOut[" not in text  # no XPath index: the buyer's own numbers
    assert stored(demo) == []


def test_problems_are_bounded_and_listed(client, demo):
    body = order(*[item(str(n), "x") for n in range(1, 301)])
    r = client.post("/cxml", data=body, content_type="text/xml")
    code, text = status(r.data)
    assert code == 406 and text.startswith("Not Acceptable: 300 problems:")
    assert len(text) < 1200 and "and " in text and "more" in text
    assert r.data.count(b"is not a number") <= 100  # the text, then at most 50 listed
    assert b"line 51: @quantity" not in r.data.split(b">", 3)[-1]


@pytest.mark.parametrize(
    "attrs, extra, words",
    [
        ("", "", None),
        (' orderDate="9999-99-99"', "", "@orderDate '9999-99-99' is not a date"),
        (
            "",
            '<Payment><PCard number="4111111111111111" expiration="2030-13-45"/></Payment>',
            "PCard/@expiration '2030-13-45' is not a card expiry date",
        ),
    ],
)
def test_header_values_are_checked(client, demo, attrs, extra, words):
    body = order(item(), extra_header=extra).replace(
        b'orderDate="2026-11-24T10:00:00-05:00"',
        attrs.encode() if attrs else b'orderDate="2026-11-24T10:00:00-05:00"',
    )
    code, text = post(client, body)
    if words is None:
        assert code == 200, text
    else:
        assert code == 406 and words in text, text


def test_empty_order_id_is_406(client, demo):
    code, text = post(client, order(item(), order_id=""))
    assert code == 406 and "orderID is missing or empty" in text


def test_lines_without_number_and_repeated_numbers_are_kept(client, demo):
    code, text = post(client, order(item(None), item("60"), item("60"), item("10")))
    assert code == 200, text
    [o] = stored(demo)
    assert sorted(line.line_number for line in o.lines) == [10, 60, 60, 61]
    kinds = sorted(f["kind"] for f in o.details["flags"] if f["kind"].startswith("line_number"))
    assert kinds == ["line_number_missing", "line_number_repeated"]


@pytest.mark.parametrize("kind", ["update", "delete"])
def test_unknown_order_is_409_whatever_its_lines(client, demo, kind):
    code, text = post(client, order(item("1", "x", ""), kind=kind, order_id="PO-NEVER"))
    assert code == 409, text
    assert "PO-NEVER" in text and "not known here" in text


def test_update_of_known_order_still_checks_its_lines(client, demo):
    assert post(client, order(item()))[0] == 200
    code, text = post(
        client, order(item("1", "x"), kind="update", header_attrs=' orderVersion="2"')
    )
    assert code == 406 and "line 1: @quantity 'x'" in text


def test_no_half_stored_order_on_refusal(client, demo):
    post(client, order(item("1", "1"), item("2", "-3")))
    with demo.db.transaction() as db:
        assert db.scalar(select(func.count()).select_from(Order)) == 0
        assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        rejected = db.scalar(select(Event).where(Event.kind == "document.rejected"))
    assert "line 2: @quantity '-3' must be more than 0" in rejected.message


def test_order_request_builder_still_works(client, demo):
    assert post(client, order_request([{"sku": "NW-1001", "qty": "1", "price": "12.90"}]))[0] == 200


def test_taking_an_order_leaves_the_garbage_collector_as_it_found_it(client, demo):
    # Collection pauses while an order is taken; accepted or refused, it runs again after.
    assert gc.isenabled()
    assert post(client, order(item("1"), order_id="PO-GC-1"))[0] == 200
    assert gc.isenabled()
    assert post(client, order(item("1", "many"), order_id="PO-GC-2"))[0] == 406
    assert gc.isenabled()
    gc.disable()
    try:
        assert post(client, order(item("1"), order_id="PO-GC-3"))[0] == 200
        assert not gc.isenabled()  # a caller's own pause is the caller's to end
    finally:
        gc.enable()
