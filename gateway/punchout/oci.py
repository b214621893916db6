"""Inbound OCI: the catalog call from the buyer user's browser.

Authenticates the call against the buyer's OCI login (failures rate-limited
per buyer), checks HOOK_URL against the allowlist, resolves the person, opens
a session and decides what the browser sees: the storefront, a product, a
search, or (VALIDATE, BACKGROUND_SEARCH) no page at all but an immediate post
back to HOOK_URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from gateway import catalog
from gateway.identity import Identity
from gateway.limits import StorageLimit
from gateway.models import Buyer, utcnow
from gateway.oci.call import CallOptions, OciCallError, oci_secret_fields, parse_call
from gateway.profiles.service import rules_of
from gateway.sessions import service as sessions
from gateway.sessions.events import record
from gateway.sessions.transfer import TransferForm, TransferHeld, transfer
from gateway.state import Gateway
from gateway.support import requests as request_log
from provisioning import throttle
from provisioning.authn import (
    OCI_FAILURE,
    AuthenticationFailed,
    authenticate_oci,
    oci_state,
)
from provisioning.buyers import url_allowed
from provisioning.users import UserRefused, record_decisions, resolve_user

FAILURE_WINDOW = timedelta(minutes=15)
DEFAULT_MAX_FAILURES = 10
BACKGROUND_SEARCH_LIMIT = 50


class OciRefused(Exception):
    """The call is refused; ``status`` and ``message`` are what the error page shows."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


@dataclass(frozen=True)
class Shop:
    """Open the storefront at ``path`` with this session token."""

    endpoint: str
    token: str
    args: dict


@dataclass(frozen=True)
class PostBack:
    """No page for the user: the form goes straight back to HOOK_URL."""

    form: TransferForm
    buyer_name: str
    direct: bool = False  # SRM 7 VALIDATE: the answer is the response, there is no HOOK_URL


def hook_url_allowed(url: str, buyer: Buyer) -> bool:
    if url.upper().startswith("SAPEVENT:"):
        return bool(buyer.settings.get("oci", {}).get("allow_sapevent", False))
    return url_allowed(url, buyer.return_url_prefixes)


def handle(gateway: Gateway, buyer_id: str, pairs: list[tuple[str, str]]) -> Shop | PostBack:
    """Serve one OCI call, or raise OciRefused (its event is already committed)."""
    outcome: Shop | PostBack | OciRefused
    try:
        logged = False
        # A lost catalog call is made again by the user (see transaction); not one that
        # answers with a cart (VALIDATE, BACKGROUND_SEARCH): that cart went back.
        function = next((v for k, v in pairs if k.upper() == "FUNCTION"), "")
        durable = function.strip().upper() in ("VALIDATE", "BACKGROUND_SEARCH")
        with gateway.db.transaction(durable=durable) as db:
            outcome = _serve(db, gateway, buyer_id, pairs)
            if not isinstance(outcome, OciRefused):
                # The request log's row in this transaction: one commit per call.
                logged = request_log.save_in(db, 302 if isinstance(outcome, Shop) else 200)
        if logged:
            request_log.saved()
    except (StorageLimit, DataError) as exc:
        # Nothing of the call is kept; the refusal is, in a transaction of its own.
        field = exc.field if isinstance(exc, StorageLimit) else "a parameter"
        problem = str(exc) if isinstance(exc, StorageLimit) else f"{field} cannot be stored"
        with gateway.db.transaction() as db:
            outcome = _refuse(
                db,
                buyer_id if db.get(Buyer, buyer_id) else None,
                "oci.rejected",
                400,
                "Catalog call not usable",
                problem,
                {"field": field},
            )
    if isinstance(outcome, OciRefused):
        raise outcome
    return outcome


def _refuse(
    db: Session,
    buyer_id: str | None,
    kind: str,
    status: int,
    title: str,
    message: str,
    data: dict | None = None,
) -> OciRefused:
    record(db, kind, f"{status} {message}", buyer_id=buyer_id, level="error", data=data or {})
    return OciRefused(status, title, message)


def _serve(db: Session, gateway: Gateway, buyer_id: str, pairs):
    snapshot = gateway.db.config.current(db)
    cached = snapshot.buyers.get(buyer_id)
    # A copy for this transaction: the call may change it (a created role).
    buyer = db.merge(cached, load=False) if cached is not None else None
    names = sorted({name for name, _ in pairs})
    if buyer is None or not buyer.settings.get("oci"):
        return _refuse(
            db,
            None,
            "oci.rejected",
            404,
            "Unknown catalog",
            f"no OCI catalog connection {buyer_id!r} is configured on this gateway",
            {"buyer": buyer_id, "parameters": names},
        )
    oci = buyer.settings["oci"]
    limit = int(oci.get("max_failures") or DEFAULT_MAX_FAILURES)
    problem = None
    try:
        direct = rules_of(buyer).validate_direct
        call = parse_call(pairs, CallOptions.from_settings(oci, validate_direct=direct))
        request_log.note(user_email=call.email and call.email.lower())
    except OciCallError as exc:
        call, problem = None, exc
    now = utcnow()
    key = throttle.oci_key(buyer.id, call.username if call else None)
    state = oci_state(db, buyer.id, key, now - FAILURE_WINDOW)
    # The buyer-wide limit is told first, even to a call too incomplete to try.
    if state.failures >= limit:
        return _refuse(
            db,
            buyer.id,
            "oci.rate_limited",
            429,
            "Too many failed logins",
            f"more than {limit} failed logins for this catalog in the last "
            f"{int(FAILURE_WINDOW.total_seconds() // 60)} minutes; try again later "
            "or ask your SAP administrator to check the catalog's login",
        )
    if problem is not None:
        return _refuse(
            db,
            buyer.id,
            "oci.rejected",
            400,
            "Catalog call incomplete",
            problem.message,
            {"parameters": names, "field": problem.field},
        )
    until = throttle.lock_from(db, key, state.throttle_row, state.locked_until, now)
    if until is not None:
        wait = int((until - now).total_seconds()) + 1
        return _refuse(
            db,
            buyer.id,
            "oci.locked",
            429,
            "Too many failed logins",
            f"too many failed logins for user {call.username!r}; try again in {wait} seconds",
        )
    try:
        credential = authenticate_oci(
            db,
            gateway.box,
            buyer,
            call.username,
            call.password,
            gateway.db.logins,
            snapshot,
            gateway.db.config,
        )
    except AuthenticationFailed as exc:
        throttle.failed(db, key, now)
        return _refuse(
            db,
            buyer.id,
            OCI_FAILURE,
            401,
            "Catalog login failed",
            f"{exc.detail}; check the user name and password configured for this "
            "catalog in your procurement system",
            {"parameters": names},
        )
    throttle.succeeded(db, key)
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            return _refuse(
                db,
                buyer.id,
                "oci.rejected",
                400,
                "Catalog call not usable",
                f"parameter {name.replace(chr(0), '?')[:60]!r} contains a NUL character",
                {"field": name},
            )
    secret_fields = oci_secret_fields(buyer)
    request_log.note(
        sender=credential.sender,  # the configured login: never a token sent
        buyer_id=buyer.id,
        doc_type=request_log.oci_doc_type(pairs),
        secret_fields=secret_fields,
        document=request_log.redact_pairs(pairs, secret_fields),
    )
    if call.hook_url and not hook_url_allowed(call.hook_url, buyer):
        return _refuse(
            db,
            buyer.id,
            "oci.rejected",
            400,
            "Return address not allowed",
            f"HOOK_URL {call.hook_url!r} is not among the return addresses allowed "
            f"for buyer {buyer.id!r}",
        )
    identity = Identity(
        call.email,
        call.unique_name,
        call.name,
        call.roles,
        {"email": "OCI parameter"} if call.email else {},
    )
    try:
        user, decisions = resolve_user(db, buyer, identity, "OCI")  # one OCI login per buyer
    except UserRefused as exc:
        return _refuse(db, buyer.id, "oci.user_refused", 401, "User not registered", exc.message)
    opened = sessions.open_session(
        db,
        buyer=buyer,
        user=user,
        protocol="oci",
        operation="create",
        token_ttl=gateway.settings.start_token_ttl_seconds,
        return_url=call.hook_url or None,
        selected_sku=call.product_id if call.function == "DETAIL" else None,
        load_saved=call.function not in ("VALIDATE", "BACKGROUND_SEARCH"),
        started_ttl=gateway.settings.session_ttl_seconds,
        details=(
            details := {
                "echo": [list(pair) for pair in call.echo],
                "target": call.target,
                "cancel_url": call.cancel_url
                if call.cancel_url and hook_url_allowed(call.cancel_url, buyer)
                else None,
                "function": call.function,
                "direct": not call.hook_url,
                "identity": identity.public(),
                "auth": {
                    "method": "OCI login",
                    "username": credential.sender,
                    "which": credential.which,
                },
            }
        ),
    )
    session_id = opened.id
    request_log.note(session_id=session_id)
    record(
        db,
        "oci.call",
        f"OCI call, FUNCTION={call.function or 'none'}",
        buyer_id=buyer.id,
        session_id=session_id,
        data={"parameters": names, "function": call.function, "hook_url": call.hook_url},
    )
    record(
        db,
        "auth.ok",
        f"authenticated OCI user {credential.sender} ({credential.which} password)",
        buyer_id=buyer.id,
        session_id=session_id,
        data={"method": "OCI login"},
    )
    record_decisions(db, decisions, buyer.id, session_id)
    if call.cancel_url and not details["cancel_url"]:
        record(
            db,
            "oci.cancel_refused",
            f"OCICANCEL {call.cancel_url!r} is not among the buyer's allowed return "
            "addresses; Cancel and return sends an empty cart to HOOK_URL instead",
            buyer_id=buyer.id,
            session_id=session_id,
            level="warning",
        )
    if call.unknown_function:
        record(
            db,
            "oci.function_unknown",
            f"FUNCTION={call.unknown_function} is not supported; normal shopping instead",
            buyer_id=buyer.id,
            session_id=session_id,
            level="warning",
        )
    record(
        db,
        "start",
        "StartPage opened; shopping session started",
        buyer_id=buyer.id,
        session_id=session_id,
    )
    token = opened.session_token
    if call.function == "DETAIL":
        return Shop("shop.product", token, {"sku": call.product_id})
    if call.function == "SOURCING":
        return Shop("shop.index", token, {"q": call.search_string})
    if call.function == "VALIDATE":
        if catalog.product_for(db, buyer.id, call.product_id) is None:
            record(
                db,
                "oci.validate",
                f"VALIDATE: product {call.product_id!r} is not in the "
                "catalog; an empty cart is returned",
                buyer_id=buyer.id,
                session_id=session_id,
                level="warning",
            )
        else:
            sessions.set_quantity(db, opened.session, call.product_id, call.quantity, log=False)
        form = _transfer_what_can_go(db, opened.session, gateway)
        return PostBack(form, buyer.name, direct=not call.hook_url)
    if call.function == "BACKGROUND_SEARCH":
        found = catalog.search(
            db,
            buyer.id,
            call.search_string,
            limit=BACKGROUND_SEARCH_LIMIT,
            allowed=sessions.permissions_of(opened.session).categories,
            facets=False,
        )
        hits, total = found.items, found.total
        for hit in hits:
            # Each hit at the least quantity the product may be ordered in.
            least = hit.product.min_quantity or hit.product.quantity_step or Decimal(1)
            sessions.set_quantity(db, opened.session, hit.product.sku, least, log=False)
        record(
            db,
            "oci.background_search",
            f"BACKGROUND_SEARCH {call.search_string!r}: {total} hit(s), {len(hits)} returned",
            buyer_id=buyer.id,
            session_id=session_id,
        )
        return PostBack(_transfer_what_can_go(db, opened.session, gateway), buyer.name)
    return Shop("shop.index", token, {})


def _transfer_what_can_go(db: Session, session, gateway: Gateway) -> TransferForm:
    """VALIDATE and BACKGROUND_SEARCH have no page to show a held line on: the lines the
    buyer's profile stops are left out (and logged), the others go."""
    try:
        return transfer(db, session, gateway.settings.default_cxml_version)
    except TransferHeld as exc:
        skus = sorted({p["sku"] for p in exc.problems if p["sku"]})
        for sku in skus:
            sessions.remove(db, session, sku)
        record(
            db,
            "profile.dropped",
            f"left out of the {session.details.get('function')} answer: {', '.join(skus)}",
            buyer_id=session.buyer_id,
            session_id=session.id,
            level="warning",
            data={"skus": skus},
        )
        return transfer(db, session, gateway.settings.default_cxml_version)
