"""Loading catalogs: CSV, CIF 3.0 and BMEcat 2005, every error at once, nothing half-written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.catalog import export, product_for, search
from gateway.catalog.decoding import EncodingError
from gateway.catalog.loader import CatalogError, load, load_path, read
from gateway.models import ContractPrice, Product
from tests.conftest import DEMO, ROOT

CATALOGS = ROOT / "fixtures" / "catalogs"
HEAD = "sku,description,unit_price,currency,uom"


def load_bytes(gateway, data: bytes, **options):
    with gateway.db.transaction() as db:
        return load(
            db, read(data, options.pop("format", None), options.pop("encoding", None)), **options
        )


def count(gateway) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(select(func.count()).select_from(Product))


def test_demo_catalog_with_contract_prices(demo):
    with demo.db.transaction() as db:
        acme = product_for(db, "acme", "NW-1001")
        globex = product_for(db, "globex", "NW-1001")
        found = search(db, "acme", "würth")
    assert (acme.price, acme.list_price, acme.contract_price) == (
        Decimal("12.90"),
        Decimal("14.90"),
        Decimal("12.90"),
    )
    assert globex.price == Decimal("14.90") and globex.contract_price is None
    assert found.total == 3


def test_reload_reports_what_changed(demo):
    with demo.db.transaction() as db:
        again = load_path(db, DEMO / "catalog.csv")
    assert (again.added, again.changed, again.unchanged, again.retired) == (0, 0, 28, 0)
    assert again.contract_prices == 5
    text = (DEMO / "catalog.csv").read_text().replace("14.90,USD", "15.90,USD", 1)
    changed = load_bytes(demo, text.encode())
    assert (changed.added, changed.changed, changed.unchanged) == (0, 1, 27)


def test_every_error_at_once_and_nothing_written(demo):
    before = count(demo)
    bad = (
        f"{HEAD},lead_time_days,image_url\n"
        "OK-1,Fine,1.00,USD,EA,2,https://img.example/a.png\n"
        "BAD-1,Negative,-1,USD,EA,,\n"
        "BAD-2,Currency,1.00,XYZ,EA,,\n"
        "BAD-3,Unit,1.00,USD,FOO,,\n"
        f"BAD-4,{'x' * 10_000_000},1.00,USD,EA,,\n"
        "BAD-5,Lead,1.00,USD,EA,soon,\n"
        "BAD-6,Image,1.00,USD,EA,,javascript:alert(1)\n"
        ",No sku,1.00,USD,EA,,\n"
    )
    with pytest.raises(CatalogError) as info:
        load_bytes(demo, bad.encode())
    message = str(info.value)
    for words in (
        "line 3, unit_price: '-1' is negative",
        "line 4, currency: 'XYZ' is not an ISO 4217 currency code",
        "line 5, uom: 'FOO' is not a UN/CEFACT unit code",
        "line 6, description:",
        "is 10000000 characters long; at most 2000 are allowed",
        "line 7, lead_time_days: 'soon' is not a whole number",
        "line 8, image_url: 'javascript:alert(1)' is not an http(s) URL",
        "line 9, sku: is empty",
    ):
        assert words in message
    assert message.startswith("7 error(s), nothing loaded")
    assert count(demo) == before


def test_skip_bad_loads_the_good_rows(demo):
    before = count(demo)
    summary = load_bytes(
        demo, f"{HEAD}\nOK-1,Fine,1.00,USD,EA\nBAD-1,Bad,abc,USD,EA\n".encode(), skip_bad=True
    )
    assert (summary.added, summary.skipped) == (1, 1)
    assert "line 3, unit_price: 'abc' is not a number" in str(summary.errors[0])
    assert count(demo) == before + 1


@pytest.mark.parametrize(
    "text, words",
    [
        ("sku,description\nA,b\n", "missing column(s): unit_price, currency, uom"),
        (HEAD + ",colour\n", "unknown column(s): colour"),
        (
            HEAD + "\nA,Thing,1,USD,EA\nA,Again,2,USD,EA\n",
            "line 3, sku: 'A' appears again (first at line 2)",
        ),
        (
            "sku,buyer_id,contract_price\nNOPE,acme,1\n",
            "'NOPE' has a contract price but no product",
        ),
        ("sku,buyer_id,contract_price\nNW-1001,nobody,1\n", "'nobody' is not a loaded buyer"),
        (HEAD + "\nA,<script>alert(1)</script>,1,USD,EA,\x01\n", "has 6 fields, the header 5"),
    ],
)
def test_file_errors(demo, text, words):
    with pytest.raises(CatalogError) as info:
        load_bytes(demo, text.encode())
    assert words in str(info.value)


def test_headers_bom_delimiters_and_encodings(demo):
    rows = "SKU;Description;Unit Price;CURRENCY;uom;Long_Description\nE-1;Rohr Ø 20 mm, Edelstahl;3,5;EUR;MTR;Länge 1 m\n"
    # Semicolons with a decimal comma are common; the comma is not accepted silently.
    with pytest.raises(CatalogError, match="unit_price: '3,5' is not a number"):
        load_bytes(demo, rows.encode("cp1252"))
    rows = rows.replace("3,5", "3.50")
    for data in (
        rows.encode("cp1252"),
        rows.encode("latin-1"),
        b"\xef\xbb\xbf" + rows.encode("utf-8"),
        rows.encode("utf-16"),
        rows.replace(";", "\t").encode("utf-8"),
    ):
        load_bytes(demo, data)
        with demo.db.transaction() as db:
            product = db.get(Product, "E-1")
            assert product.description == "Rohr Ø 20 mm, Edelstahl", data[:20]
            assert product.long_description == "Länge 1 m"
    summary = load_bytes(demo, rows.encode("cp1252"), encoding="cp1252")
    assert summary.encoding == "cp1252"
    with pytest.raises(EncodingError, match="not valid utf-8"):
        load_bytes(demo, rows.encode("cp1252"), encoding="utf-8")


def test_replace_retires_missing_products_and_keeps_them(demo):
    summary = load_bytes(demo, f"{HEAD}\nNW-1001,Hex bolt,14.90,USD,BX\n".encode(), replace=True)
    assert summary.retired == 27
    with demo.db.transaction() as db:
        assert search(db, "acme", "").total == 1
        assert product_for(db, "acme", "NW-2001") is None
        kept = product_for(db, "acme", "NW-2001", include_retired=True)
        assert kept is not None and kept.contract_price == Decimal("10.95")
    # A later load that lists them again brings them back.
    with demo.db.transaction() as db:
        again = load_path(db, DEMO / "catalog.csv")
    assert again.changed == 28 and search_total(demo) == 28


def search_total(gateway) -> int:
    with gateway.db.transaction() as db:
        return search(db, "acme", "").total


def test_cif_for_a_buyer_gives_contract_and_list_prices(demo):
    with demo.db.transaction() as db:
        summary = load_path(db, CATALOGS / "northwind.cif", buyer_id="acme")
    assert (summary.added, summary.contract_prices) == (3, 3)
    with demo.db.transaction() as db:
        glove = product_for(db, "acme", "CIF-100")
        other = product_for(db, "globex", "CIF-100")
    assert glove.product.description == 'Glove, safety, nitrile, size 9 "L"'
    assert (glove.list_price, glove.contract_price) == (Decimal("4.20"), Decimal("3.95"))
    assert other.price == Decimal("4.20")
    assert glove.product.unspsc == "46181504" and glove.product.uom == "PR"
    assert glove.product.image_url == "https://img.example/g100.jpg"


def test_cif_structure_errors(demo):
    cif = (CATALOGS / "northwind.cif").read_text()
    for broken, words in (
        (cif.replace("CIF_I_V3.0", "CIF_I_V2.1"), "not a CIF 3.0 signature"),
        (cif.replace("ENDOFDATA\n", ""), "ENDOFDATA is missing"),
        (cif.replace("ITEMCOUNT: 3", "ITEMCOUNT: 4"), "ITEMCOUNT: '4' but DATA has 3 item(s)"),
        (cif.replace("LOADMODE: I", "LOADMODE: X"), "LOADMODE: 'X' must be F or I"),
        (cif.replace(",5.80,PR,", ",5.80,PR,,"), "line 15: has 17 fields, FIELDNAMES names 16"),
    ):
        with pytest.raises(CatalogError) as info:
            load_bytes(demo, broken.encode())
        assert words in str(info.value)


def test_cif_delete_and_full_mode(demo):
    with demo.db.transaction() as db:
        load_path(db, CATALOGS / "northwind.cif")
    cif = (CATALOGS / "northwind.cif").read_text()
    deleting = cif.replace(",,goggles,", ",,goggles,TRUE")
    summary = load_bytes(demo, deleting.encode())
    assert summary.retired == 1
    full = load_bytes(demo, cif.replace("LOADMODE: I", "LOADMODE: F").encode())
    assert full.retired == 0 and "give --replace" in str(full)


def test_bmecat(demo):
    with demo.db.transaction() as db:
        summary = load_path(db, CATALOGS / "northwind-bmecat.xml", buyer_id="acme")
    assert (summary.added, summary.contract_prices) == (2, 1)
    with demo.db.transaction() as db:
        bolt = product_for(db, "acme", "BME-1")
        nut = product_for(db, "acme", "BME-2")
        assert [i.product.sku for i in search(db, "acme", "sechskant schraube").items] == ["BME-1"]
        # The demo's NW-1001 has the same manufacturer part number: both are exact hits.
        assert {i.product.sku for i in search(db, "acme", "0057840").items} == {"BME-1", "NW-1001"}
    p = bolt.product
    assert (bolt.list_price, bolt.contract_price) == (Decimal("14.90"), Decimal("12.90"))
    assert (p.uom, p.currency, p.category) == ("C62", "EUR", "Befestigungstechnik")
    assert (p.eclass, p.unspsc, p.lead_time_days) == ("23110101", "31161501", 2)
    assert (p.min_quantity, p.quantity_step, p.price_unit) == (100, 100, 100)
    assert p.image_url == "https://img.example/bme-1.jpg"
    assert p.long_description.startswith("DIN 933") and "Sechskant" in p.keywords
    assert nut.price == Decimal("0.098") and nut.product.currency == "EUR"


@pytest.mark.parametrize(
    "document, words",
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE BMECAT [<!ENTITY x "boom">]><BMECAT>&x;</BMECAT>',
            "entity declarations are not allowed",
        ),
        (b"<BMECAT><T_NEW_CATALOG><PRODUCT>", "not well-formed XML"),
        (b"<BMECAT><HEADER/></BMECAT>", "has none of T_NEW_CATALOG"),
        (
            b"<BMECAT><T_NEW_CATALOG><PRODUCT><SUPPLIER_PID>A</SUPPLIER_PID>"
            b"<PRODUCT_ORDER_DETAILS><ORDER_UNIT>XX</ORDER_UNIT></PRODUCT_ORDER_DETAILS>"
            b"</PRODUCT></T_NEW_CATALOG></BMECAT>",
            "PRODUCT[1] (A), DESCRIPTION_SHORT: is empty",
        ),
    ],
)
def test_bmecat_refusals(demo, document, words):
    with pytest.raises(CatalogError) as info:
        load_bytes(demo, document, format="bmecat")
    message = str(info.value)
    assert words in message
    if b"ORDER_UNIT>XX" in document:
        assert "ORDER_UNIT: 'XX' is not a UN/CEFACT unit code" in message
        assert "PRICE_AMOUNT: is empty" in message


def test_bmecat_images_relative_to_mime_root(demo):
    xml = (CATALOGS / "northwind-bmecat.xml").read_text()
    xml = xml.replace("https://img.example/bme-1.jpg", "bilder/bme-1.jpg")
    with_root = xml.replace(
        "<CURRENCY>EUR</CURRENCY>",
        "<CURRENCY>EUR</CURRENCY><MIME_ROOT>https://cdn.example/nw/</MIME_ROOT>",
    )
    load_bytes(demo, with_root.encode())
    with demo.db.transaction() as db:
        assert db.get(Product, "BME-1").image_url == "https://cdn.example/nw/bilder/bme-1.jpg"
    load_bytes(demo, xml.encode())  # a file beside the catalog: no picture, no failure
    with demo.db.transaction() as db:
        assert db.get(Product, "BME-1").image_url is None


def test_format_is_guessed():
    from gateway.catalog.loader import guess_format

    assert guess_format((CATALOGS / "northwind.cif").read_bytes()) == "cif"
    assert guess_format((CATALOGS / "northwind-bmecat.xml").read_bytes()) == "bmecat"
    assert guess_format((DEMO / "catalog.csv").read_bytes()) == "csv"
    assert guess_format("CIF_I_V3.0\n".encode("utf-16")) == "cif"


def test_cif_export_reloads_with_our_reader(demo, gateway):
    with demo.db.transaction() as db:
        written = export.cif(db, "acme", level2=True, punchout_url="https://pg.example/cxml")
        test_file = export.cif(db, "acme", test=True)
    assert written.startswith("CIF_I_V3.0\r\n") and "ITEMCOUNT: 28\r\n" in written
    assert "AN01000000099,NW-1001," in written and "AN01000000099-T,NW-1001," in test_file
    assert "https://pg.example/cxml,14.90,USD" in written and ",TRUE,product\r\n" in written
    # Reloaded for the same buyer, the file gives back the same products and prices
    # (the fields CIF does not carry, such as the category, are left as they are).
    with demo.db.transaction() as db:
        db.execute(ContractPrice.__table__.delete())
    summary = load_bytes(demo, written.encode(), buyer_id="acme")
    assert (summary.unchanged, summary.contract_prices) == (28, 28)
    with demo.db.transaction() as db:
        assert product_for(db, "acme", "NW-1001").contract_price == Decimal("12.90")
        assert product_for(db, "acme", "NW-1002").contract_price == Decimal("9.80")


def test_jaggaer_export_reloads_with_our_reader(demo):
    with demo.db.transaction() as db:
        written = export.jaggaer_csv(
            db, "acme", level2=True, punchout_url="https://pg.example/cxml"
        )
    assert written.startswith("Supplier Part Number,Product Description,")
    summary = load_bytes(demo, written.encode())
    # Prices in the file are ACME's: loaded as list prices, four products change.
    assert (summary.added, summary.changed, summary.unchanged) == (0, 4, 24)


def test_exports_are_shaped_by_the_buyer_profile(demo, tmp_path):
    from tests.profiles.test_presets import with_profile

    with_profile(
        demo,
        tmp_path,
        "ariba",
        'unit_map = { BX = "CT" }\ncategory_codes = { UNSPSC = { Uncoded = "27110000" } }',
    )
    load_bytes(
        demo,
        b"sku,description,unit_price,currency,uom,category\n"
        b"NEW-1,Mapped by category,1.00,USD,EA,Uncoded\n"
        b"NEW-2,No code at all,1.00,USD,EA,\n",
    )
    warnings: list[str] = []
    with demo.db.transaction() as db:
        written = export.cif(db, "acme", warnings=warnings)
        jaggaer = export.jaggaer_csv(db, "acme")
    rows = {line.split(",")[1]: line for line in written.splitlines() if line.startswith("AN")}
    assert ",31161501,12.90,CT," in rows["NW-1001"]  # the buyer's unit, its contract price
    assert ",27110000,1.00,EA," in rows["NEW-1"]  # UNSPSC from the category map
    assert warnings == [
        "1 row(s) have no UNSPSC code, which Ariba and Jaggaer need: NEW-2 (give the products "
        "one, or map their categories in [buyer.cart] category_codes / default_codes)"
    ]
    assert "NEW-1,Mapped by category,,,1.00,1.00,USD,EA,27110000," in jaggaer


def test_export_refusals(demo):
    with demo.db.transaction() as db, pytest.raises(export.ExportError, match="not loaded"):
        export.cif(db, "nobody")


def test_cli_load_and_export(demo, settings, tmp_path, monkeypatch):
    from gateway.cli import main

    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", settings.secret_key)
    runner = CliRunner()
    result = runner.invoke(
        main, ["catalog", "load", str(CATALOGS / "northwind.cif"), "--buyer", "acme"]
    )
    assert result.exit_code == 0, result.output
    assert "northwind.cif (utf-8): 3 added, 0 changed, 0 retired, 28 unchanged" not in result.output
    assert "3 added, 0 changed, 0 retired, 0 unchanged, 3 contract price(s)" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEAD}\nA,x,-1,USD,EA\nB,y,1,USD,ZZZ\n")
    result = runner.invoke(main, ["catalog", "load", str(bad)])
    assert result.exit_code == 1
    assert "line 2, unit_price" in result.output and "line 3, uom" in result.output
    result = runner.invoke(main, ["catalog", "load", str(bad), "--skip-bad"])
    assert result.exit_code == 0 and "0 added" in result.output and "2 bad row(s)" in result.output
    out = tmp_path / "acme.cif"
    result = runner.invoke(
        main, ["catalog", "export", "--format", "cif", "--buyer", "acme", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().count(b"\r\n") == 12 + 31 + 1


def test_cli_load_leaves_the_postgresql_planner_current(demo, gateway, settings, monkeypatch):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite plans without statistics")
    from gateway.cli import main

    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", settings.secret_key)
    result = CliRunner().invoke(
        main, ["catalog", "load", str(CATALOGS / "northwind.cif"), "--buyer", "acme"]
    )
    assert result.exit_code == 0, result.output
    with gateway.db.engine.connect() as conn:
        # -1 until the table was first analysed: the planner then guesses its size.
        rows = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = 'products'::regclass"
        ).scalar()
        # The search index's pending list was merged: no page of it left to clean.
        pending = conn.exec_driver_sql(
            "SELECT gin_clean_pending_list('ix_products_search_vector')"
        ).scalar()
    assert rows >= 31
    assert pending == 0


def test_cli_search_at_the_buyers_prices(demo, settings, monkeypatch):
    import json

    from gateway.cli import main

    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", settings.secret_key)
    runner = CliRunner()
    r = runner.invoke(main, ["catalog", "search", "safety glove", "--buyer", "acme"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[1].split() == [
        "NW-2001", "Nitrile", "disposable", "gloves,", "size", "L,", "box", "of", "100",
        "Ansell", "92-600-L", "10.95", "USD",
    ]  # fmt: skip
    rows = json.loads(
        runner.invoke(main, ["catalog", "search", "92600L", "--buyer", "globex", "--json"]).output
    )
    assert [(r["sku"], r["price"], r["contract"]) for r in rows] == [("NW-2001", "12.50", False)]
    r = runner.invoke(main, ["catalog", "search", "x", "--buyer", "nobody"])
    assert r.exit_code == 1 and "no buyer 'nobody'" in r.output
    r = runner.invoke(main, ["catalog", "search", "zzzzzz", "--buyer", "acme"])
    assert r.output == "nothing found for 'zzzzzz'\n"


@pytest.mark.parametrize("bad", ["a\x01b", "a\ufffeb", "a\uffffb", "a\x7fb"])
def test_text_xml_cannot_carry_is_refused_with_its_line(demo, bad):
    # A cart or CIF file built from such a description could not be written.
    data = f"sku,description,unit_price,currency,uom\nA-1,{bad},1.00,USD,EA\n".encode()
    with pytest.raises(CatalogError) as refused:
        load_bytes(demo, data)
    (error,) = refused.value.errors
    assert (error.where, error.field, error.problem) == (
        "line 2",
        "description",
        "contains control characters",
    )
