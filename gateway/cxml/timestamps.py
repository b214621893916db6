"""Lenient cXML timestamp parsing: real buyers rarely send what the DTD asks for."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone

# Ordered: the ISO forms first, then the shapes seen from Coupa (Ruby Time#to_s),
# SDI (US locale) and Jaggaer (date only).
_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%a %b %d %H:%M:%S %z %Y",
    "%a %b %d %H:%M:%S %Z %Y",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%Y-%m-%d",
)
_SPACE_BEFORE_OFFSET = re.compile(r"\s+([+-]\d\d:?\d\d)$")


def parse_timestamp(raw: str | None, default_tz: timezone = UTC) -> datetime | None:
    """Return an aware datetime for ``raw``, or None when no known shape fits.

    Values without a zone are taken in ``default_tz``. Never raises: a setup
    request is not refused for its timestamp alone.
    """
    if not raw:
        return None
    value = raw.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    value = _SPACE_BEFORE_OFFSET.sub(r"\1", value)
    # The DTD's own form, sent by most systems on every request: read without
    # trying strptime's formats one by one (an order of magnitude slower).
    if len(value) >= 19 and value[10] == "T":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=default_tz)
    for fmt in _FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=default_tz)
        return parsed
    return None


def format_timestamp(value: datetime | None = None) -> str:
    """ISO 8601 with an explicit offset, as the DTD requires."""
    value = value or datetime.now(UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")
