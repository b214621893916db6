"""Buyer users managed by support: add, disable, re-enable, assign roles.

For buyers with ``auto_create_users = false`` this is how a new colleague gets in. Roles
given here are the supplier's names (those the buyer's ``[buyer.roles]`` configure, or
its default role); a punchout that carries roles maps them as usual and replaces these.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Buyer, User, utcnow
from gateway.sessions.events import record

_ROLE = re.compile(r"[A-Za-z0-9_.-]{1,60}")


class UserChangeRefused(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def known_roles(buyer: Buyer) -> list[str]:
    settings = buyer.settings or {}
    default = (settings.get("provisioning") or {}).get("default_role", "requester")
    return sorted({default, *(settings.get("roles") or {}), *(settings.get("created_roles") or {})})


def _roles(buyer: Buyer, roles: list[str]) -> list[str]:
    roles = [r.strip() for r in roles if r.strip()]
    allowed = known_roles(buyer)
    for role in roles:
        if not _ROLE.fullmatch(role) or role not in allowed:
            raise UserChangeRefused(
                f"role {role[:60]!r} is not a role of buyer {buyer.id!r} "
                f"(known: {', '.join(allowed)})"
            )
    return list(dict.fromkeys(roles)) or [_default(buyer)]


def _default(buyer: Buyer) -> str:
    return ((buyer.settings or {}).get("provisioning") or {}).get("default_role", "requester")


def add_user(
    db: Session, buyer: Buyer, email: str, name: str = "", roles: list[str] | None = None
) -> User:
    email = email.strip().lower()
    if not re.fullmatch(r"[^@\s]{1,200}@[^@\s]{1,118}", email):
        raise UserChangeRefused(f"{email[:80]!r} is not an email address")
    taken = db.scalar(select(User).where(User.buyer_id == buyer.id, User.email == email).limit(1))
    if taken is not None:
        raise UserChangeRefused(f"{email} is already a user of {buyer.name}", 409)
    user = User(
        buyer_id=buyer.id,
        email=email,
        name=name.strip()[:200] or None,
        roles=_roles(buyer, roles or []),
    )
    db.add(user)
    db.flush()
    record(
        db,
        "user.added",
        f"user {email} added by support",
        buyer_id=buyer.id,
        data={"user_id": user.id, "roles": user.roles},
    )
    return user


def set_enabled(db: Session, user: User, enabled: bool) -> None:
    user.disabled_at = None if enabled else (user.disabled_at or utcnow())
    kind = "user.enabled" if enabled else "user.disabled"
    record(
        db,
        kind,
        f"user {user.email or user.unique_name} {kind.split('.')[1]} by support",
        buyer_id=user.buyer_id,
        data={"user_id": user.id},
    )


def set_roles(db: Session, buyer: Buyer, user: User, roles: list[str]) -> None:
    before = list(user.roles or [])
    user.roles = _roles(buyer, roles)
    record(
        db,
        "user.roles",
        f"roles of {user.email or user.unique_name} set to {user.roles}",
        buyer_id=user.buyer_id,
        data={"user_id": user.id, "before": before, "after": user.roles},
    )
