"""What one running gateway holds: settings, database, secret keys."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.config import Settings
from gateway.db import Database
from provisioning.credentials import SecretBox


@dataclass
class Gateway:
    settings: Settings
    db: Database
    box: SecretBox

    @classmethod
    def from_settings(cls, settings: Settings) -> Gateway:
        return cls(
            settings=settings,
            db=Database(settings.database_url, settings.db_pool_size),
            box=SecretBox(settings.secret_key, settings.encryption_keys),
        )

    @property
    def host(self) -> str:
        return urlsplit(self.settings.base_url).hostname or "punchgate"

    def url(self, path: str) -> str:
        return f"{self.settings.base_url}{path}"
