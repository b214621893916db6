"""Agent accounts (Argon2id), sign-in with back-off, and the audit log."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Agent, AuditEntry, utcnow
from provisioning import throttle
from provisioning.credentials import SecretBox

ROLES = ("agent", "admin")
MIN_PASSWORD = 12


class SignInRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def add_agent(db: Session, box: SecretBox, email: str, password: str, role: str) -> Agent:
    email = email.strip().lower()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email:
        raise ValueError(f"{email!r} is not an email address")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    agent = db.scalar(select(Agent).where(Agent.email == email)) or Agent(email=email)
    agent.password_hash = box.hash_password(password)
    agent.role = role
    db.add(agent)
    db.flush()
    return agent


def sign_in(db: Session, box: SecretBox, email: str, password: str) -> Agent:
    """The agent, or SignInRefused with a message that does not say which part was wrong."""
    email = (email or "").strip().lower()
    now = utcnow()
    key = f"agent:{email}"
    if throttle.locked_until(db, key, now) is not None:
        raise SignInRefused("Too many failed sign-ins. Try again in a few minutes.")
    agent = db.scalar(select(Agent).where(Agent.email == email))
    ok, upgraded = box.verify_password(password or "", agent.password_hash if agent else None)
    if agent is None or not ok:
        throttle.failed(db, key, now)
        audit(db, None, email or "(empty)", "sign_in.failed")
        raise SignInRefused("Email or password is not right.")
    throttle.succeeded(db, key)
    if upgraded:
        agent.password_hash = upgraded
    agent.last_login_at = now
    audit(db, agent, agent.email, "sign_in")
    return agent


def audit(
    db: Session,
    agent: Agent | None,
    email: str,
    action: str,
    target: str | None = None,
    data: dict | None = None,
) -> None:
    db.add(
        AuditEntry(
            agent_id=agent.id if agent else None,
            agent_email=email,
            action=action,
            target=target,
            data=data or {},
        )
    )


def audit_entries(
    db: Session,
    agent: str | None = None,
    action: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> tuple[list[AuditEntry], int | None]:
    """A page of the audit log, newest first; ``action`` matches exactly or as a prefix
    ending in a dot (``order.`` finds every order action)."""
    stmt = select(AuditEntry)
    if agent:
        stmt = stmt.where(AuditEntry.agent_email == agent.strip().lower())
    if action:
        if action.endswith("."):
            stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
        else:
            stmt = stmt.where(AuditEntry.action == action)
    if before:
        stmt = stmt.where(AuditEntry.id < before)
    rows = list(db.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], cursor
