"""Resolving the person behind a punchout, and creating them when the buyer allows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gateway.identity import Identity
from gateway.limits import check_rows
from gateway.models import Buyer, PunchoutSession, User, utcnow
from gateway.sessions.events import record
from gateway.sessions.service import attached, saved_cart_known
from gateway.statements import Prepared
from provisioning.roles import LEAST_PRIVILEGE, role_config


class UserRefused(Exception):
    """The buyer's policy does not allow this user; ``message`` is for the buyer's admin."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Decision:
    kind: str  # user.created | user.updated | user.matched | user.generic | role.mapped
    message: str
    data: dict = field(default_factory=dict)


def _map_roles(buyer: Buyer, identity: Identity, decisions: list[Decision]) -> list[str]:
    policy = buyer.settings.get("provisioning", {})
    role_map = {k.casefold(): v for k, v in policy.get("role_map", {}).items()}
    default = policy.get("default_role", "requester")
    roles: list[str] = []
    for role in identity.roles:
        mapped = role_map.get(role.casefold())
        if mapped:
            roles.append(mapped)
            decisions.append(Decision("role.mapped", f"role {role!r} mapped to {mapped!r}"))
            continue
        mode = policy.get("unknown_roles", "create")
        if mode == "reject":
            raise UserRefused(
                f"role {role!r} of user {identity.label} is not known to the supplier "
                f"for buyer {buyer.id!r}; ask the supplier to map it"
            )
        if mode == "default":
            roles.append(default)
            decisions.append(
                Decision("role.mapped", f"unknown role {role!r} -> default {default!r}")
            )
        else:
            roles.append(role)
            if role_config(buyer.settings, role) is None:
                template = policy.get("new_role_template", LEAST_PRIVILEGE)
                created = {**buyer.settings.get("created_roles", {}), role: template}
                buyer.settings = {**buyer.settings, "created_roles": created}
                decisions.append(
                    Decision(
                        "role.created",
                        f"unknown role {role!r} created with the new-role template {template} "
                        "(least privilege unless the buyer configured otherwise)",
                    )
                )
            else:
                decisions.append(Decision("role.mapped", f"role {role!r} known from before"))

    return list(dict.fromkeys(roles or [default]))


GENERIC_PREFIX = "generic:"
SEEN_PRECISION = timedelta(minutes=1)


def _seen_due(last_seen: datetime | None, now: datetime) -> bool:
    # Minute precision is all "last seen" needs, and it spares an UPDATE of the
    # user on every request of someone punching out repeatedly.
    return last_seen is None or now - last_seen > SEEN_PRECISION


def _generic_user(db: Session, buyer: Buyer, login: str, decisions: list[Decision]) -> User:
    """The one user behind every request of ``login`` that names no person."""
    unique_name = f"{GENERIC_PREFIX}{login}"[:255]
    user = db.scalar(
        select(User).where(User.buyer_id == buyer.id, User.unique_name == unique_name).limit(1)
    )
    if user is None:
        default = buyer.settings.get("provisioning", {}).get("default_role", "requester")
        user = User(
            buyer_id=buyer.id,
            unique_name=unique_name,
            name=f"Generic user of login {login}",
            roles=[default],
            last_seen_at=utcnow(),
        )
        db.add(user)
        db.flush()
        created = " (created)"
    else:
        now = utcnow()
        if _seen_due(user.last_seen_at, now):
            user.last_seen_at = now
        created = ""
    decisions.append(
        Decision(
            "user.generic",
            f"the request names no person (no email, unique name or contact); the generic "
            f"user {unique_name!r} of login {login!r} is used{created}",
            {"user_id": user.id, "login": login},
        )
    )
    return user


# Built once: the lookups of every setup request, with whether a support agent saved a
# cart for the user (the new session loads it), so that needs no statement of its own.
# The user is read, created and updated on Core rows, and made into a User by hand at
# the end (``attached``): the ORM's loading and flushing were the largest cost of a setup.
_USERS = User.__table__
_SAVED = (
    select(PunchoutSession.id)
    .where(PunchoutSession.user_id == _USERS.c.id, PunchoutSession.status == "saved")
    .exists()
    .label("saved_cart")
)
_BY_EMAIL = Prepared(
    select(*_USERS.c, _SAVED)
    .where(_USERS.c.buyer_id == bindparam("buyer_id"), _USERS.c.email == bindparam("email"))
    .limit(1)
)
_BY_UNIQUE_NAME = Prepared(
    select(*_USERS.c, _SAVED)
    .where(
        _USERS.c.buyer_id == bindparam("buyer_id"),
        _USERS.c.unique_name == bindparam("unique_name"),
    )
    .limit(1)
)
_INSERT_USER = Prepared(insert(_USERS).returning(_USERS.c.id))
_USER_KEYS = tuple(c.key for c in _USERS.c)


def _find(db: Session, lookup: Prepared, params: dict) -> tuple[dict, bool] | None:
    """The user row (the users columns by key) and whether a saved cart waits for them."""
    found = lookup.first(db.connection(), params)
    if found is None:
        return None
    return dict(zip(_USER_KEYS, found, strict=False)), bool(found[-1])


def _store_changes(db: Session, row: dict, updates: dict) -> User:
    """Write ``updates`` (column values) to the user of ``row``; that user as an ORM object."""
    if updates:
        check_rows(User, [updates])
        db.connection().execute(update(_USERS).where(_USERS.c.id == row["id"]).values(updates))
        row.update(updates)
    user = attached(db, User, row)
    # Already in this unit of work (held before this call): bring it up to date.
    for key, value in updates.items():
        set_committed_value(user, key, value)
    return user


def resolve_user(
    db: Session, buyer: Buyer, identity: Identity, login: str = ""
) -> tuple[User | None, list[Decision]]:
    """Find the user by email, then unique name; create or refuse per buyer policy.

    ``login`` is the technical login the request came with (cXML Sender identity,
    OCI user name); a request that names no person gets that login's generic
    user, or is refused, as the buyer's ``unidentified_users`` says.
    """
    decisions: list[Decision] = []
    if not (identity.email or identity.unique_name):
        policy = buyer.settings.get("provisioning", {})
        if policy.get("unidentified_users", "generic") == "refuse":
            raise UserRefused(
                f"the request names no person (no UserEmail, UniqueName, Contact email or "
                f"user parameter) and buyer {buyer.id!r} requires one "
                '(unidentified_users = "refuse")'
            )
        return _generic_user(db, buyer, login or "unknown", decisions), decisions
    if db.new:
        db.flush()  # what an ORM query's autoflush would do: find users added before
    found = None
    if identity.email:
        found = _find(db, _BY_EMAIL, {"buyer_id": buyer.id, "email": identity.email})
    if found is None and identity.unique_name:
        found = _find(
            db, _BY_UNIQUE_NAME, {"buyer_id": buyer.id, "unique_name": identity.unique_name}
        )
        # A unique name that belongs to someone with another email is not the
        # same person: distinct people never merge.
        if (
            found is not None
            and identity.email
            and found[0]["email"] not in (None, "", identity.email)
        ):
            found = None
    if found is not None and found[0]["disabled_at"] is not None:
        raise UserRefused(
            f"user {identity.label} is disabled by the supplier for buyer {buyer.id!r}; "
            "ask the supplier's support to re-enable this user"
        )
    roles = _map_roles(buyer, identity, decisions)
    now = utcnow()
    if found is None:
        policy = buyer.settings.get("provisioning", {})
        if not policy.get("auto_create_users", True):
            raise UserRefused(
                f"user {identity.label} is not registered with the supplier for buyer "
                f"{buyer.id!r} and automatic creation is off; ask the supplier to add this user"
            )
        row = {
            "buyer_id": buyer.id,
            "email": identity.email,
            "unique_name": identity.unique_name,
            "name": identity.name,
            "roles": roles,
            "created_at": now,
            "updated_at": now,
            "last_seen_at": now,
            "disabled_at": None,
        }
        check_rows(User, [row])
        row["id"] = _INSERT_USER.insert(db.connection(), [row])
        user = attached(db, User, row)
        saved_cart_known(db, user.id, False)
        decisions.append(
            Decision(
                "user.created",
                f"user {identity.label} created with roles {roles}",
                {"user_id": user.id, "source": identity.source},
            )
        )
        return user, decisions
    row, saved = found
    saved_cart_known(db, row["id"], saved)
    changes, updates = {}, {}
    for attr in ("email", "unique_name", "name"):
        new = getattr(identity, attr)
        if new and row[attr] != new:
            changes[attr] = [row[attr], new]
            updates[attr] = new
    if identity.roles and sorted(row["roles"]) != sorted(roles):
        changes["roles"] = [row["roles"], roles]
        updates["roles"] = roles
    if _seen_due(row["last_seen_at"], now):
        updates["last_seen_at"] = now
    if updates:
        updates["updated_at"] = now
    user = _store_changes(db, row, updates)
    if changes:
        decisions.append(
            Decision(
                "user.updated",
                f"user {identity.label} updated: {sorted(changes)}",
                {"user_id": user.id, "changes": changes},
            )
        )
    else:
        decisions.append(
            Decision("user.matched", f"user {identity.label} recognised", {"user_id": user.id})
        )
    return user, decisions


def record_decisions(
    db: Session, decisions: list[Decision], buyer_id: str, session_id: int
) -> None:
    """Log every provisioning decision on the session, with its reason."""
    for decision in decisions:
        record(
            db,
            decision.kind,
            decision.message,
            buyer_id=buyer_id,
            session_id=session_id,
            data=decision.data,
        )
