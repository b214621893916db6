"""GET/POST /oci/<buyer_id>: the SAP OCI catalog call from the buyer user's browser."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for

from gateway.punchout import oci as oci_inbound
from gateway.support import requests as request_log
from gateway.web import current_gateway

bp = Blueprint("oci", __name__)


@bp.route("/oci/<buyer_id>", methods=["GET", "POST"])
def catalog_call(buyer_id: str):
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs += list(request.form.items(multi=True))
    try:
        outcome = oci_inbound.handle(current_gateway(), buyer_id, pairs)
    except oci_inbound.OciRefused as exc:
        request_log.note(reason=f"{exc.title}: {exc.message}")
        return render_template("error.html", title=exc.title, message=exc.message), exc.status
    if isinstance(outcome, oci_inbound.PostBack) and outcome.direct:
        # SRM 7 reads the item fields from this answer; there is nowhere to post them.
        return render_template("oci_direct.html", form=outcome.form)
    if isinstance(outcome, oci_inbound.PostBack):
        return render_template(
            "transfer.html", form=outcome.form, buyer={"name": outcome.buyer_name}
        )
    # A browser follows the Location: no "Redirecting..." page to build and escape.
    location = url_for(outcome.endpoint, session=outcome.token, **outcome.args)
    return Response(b"", status=302, headers={"Location": location})
