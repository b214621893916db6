"""``/demo/received/<buyer>``: what the procurement system received (``punchgate demo`` only).

The demo buyers' return URLs point here, so a newcomer's round trip needs nothing
else running: the cart's lines, the document as posted and its DTD check.
Registered only when ``PUNCHGATE_DEMO`` is set; a real buyer never returns here.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from gateway.web import current_gateway

bp = Blueprint("demo", __name__)


@bp.route("/demo/received/<path:buyer>", methods=["GET", "POST"])
def received(buyer: str):
    from gateway.replay import readable
    from gateway.simulator import read_cart

    if request.method == "GET":
        return render_template("demo_received.html", buyer=buyer, waiting=True)
    fields = list(request.form.items(multi=True))
    try:
        lines, document = read_cart(fields)
    except Exception as exc:  # whatever was posted is shown as refused, never a 500
        return render_template(
            "demo_received.html", buyer=buyer, problem=f"{type(exc).__name__}: {exc}"
        ), 400
    dtd = None
    directory = current_gateway().settings.cxml_dtd_dir
    if document is not None and directory:
        from gateway.cxml.dtd import DtdCatalog

        dtd = DtdCatalog(directory).validate(document)
    return render_template(
        "demo_received.html",
        buyer=buyer,
        lines=lines,
        document=readable(document) if document is not None else None,
        dtd=dtd,
        dtd_configured=bool(directory),
        fields=[(name, value) for name, value in fields if name.upper().startswith("NEW_ITEM")],
    )
