"""The storefront's floor: a bare Flask app rendering the storefront's own templates with
fixed data (no database, no session lookup, no search), and the JSON cart the session
API answers, fixed. Everything the gateway does beyond this is its own cost.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from flask import Blueprint, Flask, jsonify, render_template

from benchmarks.catalog_data import CATEGORIES, products
from gateway import money

GATEWAY = Path(__file__).resolve().parent.parent / "gateway"
app = Flask(__name__, template_folder=str(GATEWAY / "templates"), static_folder=None)
app.add_url_rule("/static/<path:filename>", "static", lambda filename: "")
app.jinja_env.filters["qty"] = money.quantity

# The endpoints the templates link to, so url_for builds the same links.
shop = Blueprint("shop", __name__, url_prefix="/shop")
api = Blueprint("api", __name__, url_prefix="/api/v1/punchout")
for rule, endpoint, methods in (
    ("/cart", "cart", ["GET"]),
    ("/cancel", "cancel", ["POST"]),
    ("/product/<path:sku>", "product", ["GET"]),
    ("/cart/change", "change_cart", ["POST"]),
):
    shop.add_url_rule(rule, endpoint, lambda **_: "", methods=methods)
for rule, endpoint in (("/transfer", "transfer"), ("/session", "get_session")):
    api.add_url_rule(rule, endpoint, lambda: "")

TOKEN = "t" * 43
CART_LINES = 20
ITEMS = [
    SimpleNamespace(
        product=SimpleNamespace(
            image_url=None, min_quantity=None, quantity_step=None, price_unit=None, **row
        ),
        price=Decimal(row["unit_price"]),
        list_price=Decimal(row["unit_price"]),
        contract_price=None,
    )
    for row in products(24)
]
FACETS = {
    "category": [SimpleNamespace(value=c, count=250) for c in CATEGORIES[:12]],
    "manufacturer": [SimpleNamespace(value=f"Maker {n}", count=90) for n in range(12)],
}
CART = {
    "items": [
        {
            "sku": item.product.sku,
            "line_id": str(n),
            "description": item.product.description,
            "quantity": "1",
            "unit_price": money.amount(item.price),
            "list_price": money.amount(item.list_price),
            "contract_price": None,
            "currency": item.product.currency,
            "uom": item.product.uom,
            "line_total": money.amount(item.price),
        }
        # As many lines as the benchmark's carts reach: it adds 20 SKUs at random.
        for n, item in enumerate(ITEMS[:CART_LINES], start=1)
    ],
    "total": "100.00",
    "currency": "EUR",
}


def _context(**current) -> dict:
    return dict(
        session=SimpleNamespace(
            id=1, status="open", protocol="cxml", operation="create", details={}
        ),
        token=TOKEN,
        buyer=SimpleNamespace(name="ACME Corp"),
        user=SimpleNamespace(name="Jane Doe", email="jane.doe@acme.example"),
        cart=CART,
        cart_count=len(CART["items"]),
        read_only=False,
        categories=CATEGORIES,
        show_prices=True,
        supplier="Northwind Industrial Supply",
        warn_in=None,
        products=ITEMS,
        total=2500,
        facets=FACETS,
        manufacturer=None,
        sort="relevance",
        sorts={"relevance": "Relevance", "price": "Price, low to high"},
        here=lambda **changes: f"/shop/?session={TOKEN}",
        page=1,
        pages=105,
        **current,
    )


@shop.get("/")
def index():
    from flask import request

    return render_template(
        "shop/index.html",
        **_context(query=request.args.get("q", ""), category=request.args.get("category")),
    )


@api.post("/cart/items")
def add_item():
    return jsonify(CART)


app.register_blueprint(shop)
app.register_blueprint(api)
