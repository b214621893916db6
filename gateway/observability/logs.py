"""JSON logs, one object per line, and the redaction of what reaches them.

Every record carries ``time``, ``level``, ``logger``, ``message`` and the
``request_id`` of the request being served; request lines add ``buyer``,
``doc_type``, ``cxml_status``, ``reason`` and ``latency_ms`` (README, Operations).
"""

from __future__ import annotations

import logging
import logging.config
import re
from urllib.parse import unquote_plus

from pythonjsonlogger.json import JsonFormatter

from gateway.observability.context import request_id

REDACTED = "[redacted]"
# Query parameters whose value is a credential wherever they appear: the OCI
# login aliases (gateway.oci.call.PASSWORD_FIELDS), session and start tokens.
SECRET_PARAMETERS = frozenset(
    {"password", "~password", "pass", "pwd", "token", "session", "secret", "shared_secret"}
)
# Last line of defence for free text: NAME=value pairs that look like credentials.
_SECRET_PAIR = re.compile(
    r"(?i)(\b(?:~?password|pass|pwd|token|session|shared_?secret|secret)=)[^&\s\"'\\]+"
)
_START_TOKEN_PATH = re.compile(r"^(/punchout/start/)[^/?]+")


def redact_text(text: str) -> str:
    return _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, text)


def redact_query(query: str, secret_names: frozenset[str] | set[str] = frozenset()) -> str:
    """The query string with the value of every credential parameter replaced.

    Only the names are decoded; the other values stay as sent (decoding and encoding
    them all again was most of an OCI call's log line).
    """
    if not query:
        return query
    names = SECRET_PARAMETERS | {n.casefold() for n in secret_names} if secret_names else None
    parts = query.split("&")
    for i, part in enumerate(parts):
        name, eq, value = part.partition("=")
        if not eq:
            continue
        if unquote_plus(name).casefold() in (names or SECRET_PARAMETERS) or (
            # A value that holds "PASSWORD=..." once decoded.
            "%3d" in value.lower() and _SECRET_PAIR.search(unquote_plus(value))
        ):
            parts[i] = f"{name}={REDACTED}"
    # Free text can still look like a credential (a value holding "PASSWORD=...").
    return redact_text("&".join(parts))


def redact_path(path: str) -> str:
    """The path with a start token (single use, but a login while it lasts) replaced."""
    return _START_TOKEN_PATH.sub(lambda m: m.group(1) + REDACTED, path)


class Formatter(JsonFormatter):
    """python-json-logger with our field names and the credential scrub applied last."""

    def __init__(self):
        super().__init__(
            "{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return redact_text(super().format(record))


def logconfig(level: str = "INFO") -> dict:
    """A logging.config dict: JSON on stderr for the app and gunicorn alike."""
    handler = {"class": "logging.StreamHandler", "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": Formatter}},
        "handlers": {
            "stderr": {**handler, "stream": "ext://sys.stderr"},
            "stdout": {**handler, "stream": "ext://sys.stdout"},
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
            # Driver chatter is not operator information.
            "sqlalchemy": {"level": "WARNING"},
            "alembic": {"level": "WARNING"},
            "urllib3": {"level": "WARNING"},
        },
    }


def configure(level: str = "INFO") -> None:
    """JSON logging for a process that is not gunicorn's (the outbox worker)."""
    logging.config.dictConfig(logconfig(level))
