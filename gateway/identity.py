"""The person behind a punchout, as the procurement system named them (protocol-neutral)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Identity:
    email: str | None = None
    unique_name: str | None = None
    name: str | None = None
    roles: tuple[str, ...] = ()
    source: dict = field(default_factory=dict)  # where each value came from, for the log

    @property
    def label(self) -> str:
        return self.email or self.unique_name or "anonymous"

    def public(self) -> dict:
        return {
            "email": self.email,
            "unique_name": self.unique_name,
            "name": self.name,
            "roles": list(self.roles),
            "source": self.source,
        }
