"""Inbound cXML: parse under the XML policy, authenticate, dispatch, answer.

Every answer is a cXML Response with a Status. A request either commits all
it stores (session, user, events) or nothing but its rejection event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.cxml import documents, versions
from gateway.cxml.envelope import Envelope, parse_envelope
from gateway.cxml.errors import (
    BadRequest,
    CxmlError,
    InternalError,
    NotAcceptable,
    NotImplementedRequest,
    Unauthorized,
)
from gateway.cxml.setup import parse_setup_request, user_identity
from gateway.cxml.signing import has_signature
from gateway.cxml.signing import verify as verify_signature
from gateway.cxml.status_update import parse_status_update
from gateway.limits import StorageLimit
from gateway.mime import Part
from gateway.models import utcnow
from gateway.orders.intake import find_reference, replay, take_order
from gateway.sessions import service as sessions
from gateway.sessions.events import REDACTED, record, redact_document
from gateway.state import Gateway
from gateway.support import requests as request_log
from gateway.xml import MalformedXML, ParsedDocument, UnsafeXML, parse
from provisioning import throttle
from provisioning.authn import Authenticated, AuthenticationFailed, authenticate
from provisioning.buyers import url_allowed
from provisioning.users import UserRefused, record_decisions, resolve_user

log = logging.getLogger(__name__)
EXCERPT = 4096
MAX_LISTED = 50  # problems listed in a refusal's Status content


@dataclass(frozen=True)
class Answer:
    code: int
    body: bytes

    @property
    def http_status(self) -> int:
        # Transient failures are also HTTP 500 so that HTTP-level retries fire;
        # every other outcome is carried by the cXML Status alone.
        return 500 if self.code >= 500 else 200


@dataclass
class Context:
    gateway: Gateway
    envelope: Envelope
    auth: Authenticated
    raw: bytes
    document: str  # ``raw`` redacted, as the session log keeps it
    parts: list[Part] = field(default_factory=list)
    supplier_credentials: list = field(default_factory=list)

    @property
    def version(self) -> str:
        """The version answers and this session's documents are written in."""
        return versions.answer_version(
            self.auth.buyer.settings.get("cxml", {}).get("version"),
            self.envelope.declared_version,
            self.gateway.settings.default_cxml_version,
        )


@dataclass(frozen=True)
class Handled:
    code: int
    body: object = None  # the response element, if any
    session_id: int | None = None
    text: str | None = None
    logged: bool = False  # the handler logged the request itself (with its session)
    answer: bytes | None = None  # the whole Response, when the handler wrote it itself
    stored: str | None = None  # ``answer`` as the session log keeps it, if the handler knows


Handler = Callable[[Session, Context], Handled]


def _profile(db: Session, ctx: Context):
    url = ctx.gateway.url("/cxml")
    transactions = [(name, url) for name in sorted(HANDLERS)]
    record(db, "profile", "ProfileResponse sent", buyer_id=ctx.auth.buyer.id)
    return Handled(200, documents.profile_response(transactions))


def _setup(db: Session, ctx: Context):
    buyer = ctx.auth.buyer
    setup = parse_setup_request(ctx.envelope.body)
    return_url = setup.browser_form_post
    if return_url and not url_allowed(return_url, buyer.return_url_prefixes):
        raise BadRequest(
            f"BrowserFormPost URL {return_url!r} is not among the return URLs allowed for "
            f"buyer {buyer.id!r}"
        )
    role_extrinsics = buyer.settings.get("provisioning", {}).get("role_extrinsics")
    identity = (
        user_identity(setup, tuple(role_extrinsics)) if role_extrinsics else (user_identity(setup))
    )
    try:
        user, decisions = resolve_user(db, buyer, identity, ctx.auth.sender)
    except UserRefused as exc:
        raise Unauthorized(exc.message) from None
    opened = sessions.open_session(
        db,
        buyer=buyer,
        user=user,
        protocol="cxml",
        operation=setup.operation,
        token_ttl=ctx.gateway.settings.start_token_ttl_seconds,
        buyer_cookie=setup.buyer_cookie,
        return_url=return_url,
        payload_id=ctx.envelope.payload_id,
        cxml_version=ctx.version,
        selected_sku=setup.selected_item,
        details={
            "from": [c.public() for c in ctx.envelope.from_],
            "to": [c.public() for c in ctx.envelope.to],
            "supplier": ctx.supplier_credentials,
            "user_agent": ctx.envelope.user_agent,
            "deployment_mode": ctx.envelope.deployment_mode,
            "timestamp": ctx.envelope.timestamp_raw,
            "identity": identity.public(),
            "extrinsics": setup.extrinsics,
            "ship_to": setup.ship_to,
            "auth": {"method": ctx.auth.method, "sender": ctx.auth.sender, "which": ctx.auth.which},
        },
    )
    session_id = opened.id
    _log_request(db, ctx, session_id)
    record_decisions(db, decisions, buyer.id, session_id)
    if not return_url:
        record(
            db,
            "setup.warning",
            "no BrowserFormPost URL: the cart cannot be sent back",
            buyer_id=buyer.id,
            session_id=session_id,
            level="warning",
        )
    if setup.items:
        for warning in sessions.rebuild_cart(db, opened.session, setup.items):
            record(
                db,
                "cart.rebuild",
                warning,
                buyer_id=buyer.id,
                session_id=session_id,
                level="warning",
            )
        record(
            db,
            "cart.rebuilt",
            f"cart rebuilt from {len(setup.items)} ItemOut line(s) for {setup.operation}",
            buyer_id=buyer.id,
            session_id=session_id,
            data={"lines": len(opened.session.lines)},
        )
    record(
        db,
        "session.created",
        f"{setup.operation} session for {identity.label}; StartPage issued",
        buyer_id=buyer.id,
        session_id=session_id,
        data={"buyer_cookie": setup.buyer_cookie, "operation": setup.operation},
    )
    start_url = ctx.gateway.url(f"/punchout/start/{opened.start_token}")
    answer = documents.setup_answer(start_url, version=ctx.version)
    # The start token is a login until used: the log keeps the answer without it. Built
    # from our template, the answer holds nothing else to redact.
    stored = answer.decode("utf-8").replace(opened.start_token, REDACTED)
    return Handled(200, session_id=session_id, logged=True, answer=answer, stored=stored)


def _order(db: Session, ctx: Context):
    buyer = ctx.auth.buyer
    order = replay(db, buyer.id, ctx.envelope.payload_id, ctx.raw)
    if order is not None:
        record(
            db,
            "order.duplicate",
            f"OrderRequest {ctx.envelope.payload_id} received again; original answer repeated",
            buyer_id=buyer.id,
            session_id=order.session_id,
            data={"order": order.id},
        )
        return Handled(order.response_code, session_id=order.session_id, text=order.response_text)
    order = take_order(
        db,
        buyer=buyer,
        envelope=ctx.envelope,
        raw=ctx.raw,
        parts=ctx.parts,
        max_lines=ctx.gateway.settings.max_order_lines,
    )
    return Handled(order.response_code, session_id=order.session_id, text=order.response_text)


def _status_update(db: Session, ctx: Context):
    buyer = ctx.auth.buyer
    update = parse_status_update(ctx.envelope.body)
    order, message = find_reference(db, buyer.id, update.reference)
    data = {
        "reference": update.reference,
        "code": update.code,
        "text": update.text,
        "detail": update.detail,
        "kind": update.kind,
        **update.kind_detail,
    }
    session_id = order.session_id if order is not None else None
    if update.reference and order is None and message is None:
        record(
            db,
            "status_update.unmatched",
            f"StatusUpdateRequest for unknown document {update.reference}",
            buyer_id=buyer.id,
            level="warning",
            data=data,
        )
        raise NotAcceptable(
            f"DocumentReference payloadID {update.reference!r} is not a "
            f"document exchanged with buyer {buyer.id!r}"
        )
    if order is not None:
        data["order"] = order.id
    if message is not None:
        data["outbox"] = message.id
        data["document"] = message.kind.removeprefix("cxml.")
    record(
        db,
        "status_update",
        f"buyer reports {update.code} {update.text} on {data.get('document', 'order')} "
        f"{update.reference or ''}".strip(),
        buyer_id=buyer.id,
        session_id=session_id,
        level="info" if update.code < 400 else "warning",
        data=data,
    )
    return Handled(200, session_id=session_id)


HANDLERS: dict[str, Handler] = {
    "ProfileRequest": _profile,
    "PunchOutSetupRequest": _setup,
    "OrderRequest": _order,
    "StatusUpdateRequest": _status_update,
}


def _log_request(db: Session, ctx: Context, session_id: int | None) -> None:
    document = ctx.document
    if len(ctx.raw) <= request_log.DOCUMENT_CAP:
        # The request log keeps the same redacted text: no second pass over the body.
        request_log.note_document(ctx.raw, document)
    record(
        db,
        "document.in",
        f"{ctx.envelope.name} received ({ctx.envelope.payload_id})",
        buyer_id=ctx.auth.buyer.id,
        session_id=session_id,
        data={
            "payload_id": ctx.envelope.payload_id,
            "version": ctx.envelope.version,
            "user_agent": ctx.envelope.user_agent,
        },
        document=document,
    )
    record(
        db,
        "auth.ok",
        f"authenticated {ctx.auth.sender} by {ctx.auth.method} ({ctx.auth.which} secret)",
        buyer_id=ctx.auth.buyer.id,
        session_id=session_id,
        data={
            "method": ctx.auth.method,
            "sender": ctx.auth.sender,
            "which": ctx.auth.which,
            "credential": ctx.auth.credential_id,
        },
    )


def _secrets(envelope: Envelope | None) -> list[str]:
    """What the parser read as secret: it must not survive redaction of the stored copy."""
    if envelope is None:
        return []
    found = []
    for cred in (*envelope.from_, *envelope.to, *envelope.sender):
        found += [cred.shared_secret or "", cred.mac.value if cred.mac else ""]
    for el in envelope.body.iter("{*}PCard", "PCard"):
        found.append(el.get("number", ""))
    return [value for value in found if value]


def handle(gateway: Gateway, raw: bytes, parts: list[Part] | None = None) -> Answer:
    """Answer one POST /cxml body (``parts``: the attachments of a multipart body)."""
    try:
        return _handle(gateway, raw, parts or [])
    except IntegrityError:
        # A concurrent copy of the same document committed first (unique
        # payloadID or orderID+version): this attempt now finds it and answers
        # as the first one did.
        return _handle(gateway, raw, parts or [])
    except DBAPIError as exc:  # raised by _handle only for a connection found dead
        if not exc.connection_invalidated:
            raise
        # The pooled connection was dead (database restarted); the pool has been
        # replaced, and nothing was committed: the same request once more.
        return _handle(gateway, raw, parts or [], retried=True)


def _handle(gateway: Gateway, raw: bytes, parts: list[Part], retried: bool = False) -> Answer:
    version = gateway.settings.default_cxml_version
    buyer_id = None
    envelope = None
    try:
        try:
            doc = parse(
                raw,
                max_bytes=gateway.settings.max_document_bytes,
                max_depth=gateway.settings.max_xml_depth,
                max_elements=gateway.settings.max_xml_elements,
            )
        except UnsafeXML as exc:
            raise BadRequest(f"document refused: {exc}") from None
        except MalformedXML as exc:
            raise BadRequest(str(exc)) from None
        envelope = parse_envelope(doc)
        # Until the buyer is known, answer in the request's own version if we emit it.
        version = versions.answer_version(None, envelope.declared_version, version)
        request_log.note_envelope(envelope)
        # A lost setup is punched out again; an order is never given up (see transaction).
        durable = envelope.name not in ("PunchOutSetupRequest", "ProfileRequest")
        # Before the transaction: on SQLite other writers wait for as long as it lasts.
        document = redact_document(raw, secrets=_secrets(envelope))
        with gateway.db.transaction(durable=durable) as db:
            now = utcnow()
            key = throttle.cxml_key(envelope)
            state = gateway.db.config.state(db, key)
            until = throttle.lock_from(db, key, state.throttle_row, state.locked_until, now)
            if until is not None:
                wait = int((until - now).total_seconds()) + 1
                raise AuthenticationLocked(
                    f"too many failed attempts for Sender {envelope.sender[0].domain}/"
                    f"{envelope.sender[0].identity}; retry in {wait} seconds"
                )
            try:
                auth = authenticate(
                    db, gateway.box, envelope, now, gateway.db.config, state.snapshot
                )
            except AuthenticationFailed as exc:
                buyer_id = exc.buyer_id
                raise
            throttle.succeeded(db, key)
            buyer_id = auth.buyer.id
            signing = auth.buyer.settings.get("signing") or {}
            if signing.get("require_signed") or has_signature(doc.root):
                signed = verify_signature(
                    doc.root, signing.get("certificate"), bool(signing.get("require_signed"))
                )
                # From here on only what the signature covers is read.
                envelope = parse_envelope(ParsedDocument(signed, doc.doctype, doc.system_url, raw))
            ctx = Context(
                gateway, envelope, auth, raw, document, parts, state.snapshot.supplier_credentials
            )
            version = ctx.version
            handler = HANDLERS.get(envelope.name)
            if handler is None or envelope.kind != "Request":
                raise NotImplementedRequest(
                    f"{envelope.kind} {envelope.name} is not supported by this gateway"
                )
            result = handler(db, ctx)
            if not result.logged:
                _log_request(db, ctx, result.session_id)
            answer = result.answer or documents.response(
                result.code, result.text, version=version, body=result.body
            )
            record(
                db,
                "document.out",
                f"Response {result.code} sent",
                buyer_id=buyer_id,
                session_id=result.session_id,
                data={"code": result.code},
                document=result.stored if result.stored is not None else redact_document(answer),
            )
            answered = Answer(result.code, answer)
            request_log.note(
                buyer_id=buyer_id,
                session_id=result.session_id,
                reason=result.text,
                cxml_code=result.code,
            )
            logged = request_log.save_in(db, answered.http_status)
        if logged:
            request_log.saved()
        return answered
    except CxmlError as exc:
        return _reject(gateway, exc, raw, version, buyer_id, envelope)
    except StorageLimit as exc:
        # Checked before the flush on every database: SQLite would have kept it,
        # PostgreSQL refused it; both now answer this.
        return _reject(
            gateway,
            NotAcceptable(f"{exc.field} {exc.problem}"),
            raw,
            version,
            buyer_id,
            envelope,
        )
    except IntegrityError:
        raise
    except DataError:
        # The input held something the database refused that the checks above
        # do not know: still the sender's document at fault, not an outage.
        log.warning("database refused a value of a cXML document", exc_info=True)
        return _reject(
            gateway,
            NotAcceptable("a value of the document cannot be stored (out of range or invalid)"),
            raw,
            version,
            buyer_id,
            envelope,
        )
    except (ArithmeticError, ValueError, LookupError, TypeError) as exc:
        # A document our code could not read is the document's problem as far as
        # the buyer can tell: a 500 would tell its system to resend it forever.
        log.exception("cXML document could not be processed")
        return _reject(
            gateway,
            BadRequest(f"the document could not be read ({type(exc).__name__})"),
            raw,
            version,
            buyer_id,
            envelope,
        )
    except SQLAlchemyError as exc:
        if getattr(exc, "connection_invalidated", False) and not retried:
            raise
        log.exception("database failure while handling cXML")
        return _reject(
            gateway,
            InternalError("temporary database failure; retry later"),
            raw,
            version,
            buyer_id,
            envelope,
        )


class AuthenticationLocked(Unauthorized):
    """401 while the sender is backing off after repeated failures."""


def _reject(gateway, exc: CxmlError, raw: bytes, version: str, buyer_id, envelope) -> Answer:
    # The Status text names the problem; the content lists every problem only
    # when there are several (the text attribute is bounded).
    problems = getattr(exc, "problems", [])
    listing = "\n".join(problems[:MAX_LISTED]) if len(problems) > 1 else None
    body = documents.response(exc.code, exc.text, listing, version=version)
    request_log.note(buyer_id=buyer_id, cxml_code=exc.code, reason=f"{exc.code} {exc.detail}")
    kind = "auth.failed" if isinstance(exc, Unauthorized) else "document.rejected"
    if isinstance(exc, AuthenticationLocked):
        kind = "auth.locked"
    data = {"code": exc.code, "bytes": len(raw)}
    if envelope is not None:
        data.update(
            payload_id=envelope.payload_id, request=envelope.name, user_agent=envelope.user_agent
        )
    reasons = getattr(exc, "reasons", None)
    if reasons:
        data["reasons"] = reasons
    # Policy refusals (entities, subsets, size) keep no part of the document.
    keep = (
        None
        if exc.code == 400 and "refused" in exc.detail
        else redact_document(raw, limit=EXCERPT, secrets=_secrets(envelope))
    )
    try:
        with gateway.db.transaction() as db:
            record(
                db,
                kind,
                f"{exc.code} {exc.detail}",
                buyer_id=buyer_id,
                level="error",
                data=data,
                document=keep,
            )
            if isinstance(exc, AuthenticationFailed) and envelope is not None:
                until = throttle.failed(db, throttle.cxml_key(envelope), utcnow())
                if until is not None:
                    record(
                        db,
                        "auth.throttled",
                        f"Sender {envelope.sender[0].domain}/{envelope.sender[0].identity} "
                        f"locked until {until.isoformat(timespec='seconds')} after repeated "
                        "failures",
                        buyer_id=buyer_id,
                        level="warning",
                    )
    except SQLAlchemyError:
        log.exception("could not record a rejection event")
    return Answer(exc.code, body)


def reject_oversize(gateway: Gateway, length: int) -> Answer:
    """Refuse a body by its announced length, without reading it."""
    limit = gateway.settings.max_document_bytes
    exc = BadRequest(f"document refused: {length} bytes is over the limit of {limit} bytes")
    return _reject(gateway, exc, b"", gateway.settings.default_cxml_version, None, None)


def reject_malformed(gateway: Gateway, detail: str) -> Answer:
    return _reject(
        gateway, BadRequest(detail), b"", gateway.settings.default_cxml_version, None, None
    )
