"""What every ``punchgate`` command shares: the gateway, JSON and table output, errors.

Commands print through these helpers so that every noun looks and fails the same way:

- ``echo_json(data)`` for ``--json`` (a stable shape: the keys documented in the README);
- ``echo_table(rows, columns, empty=...)`` for people;
- ``fail(message)`` for an error: one line on stderr, exit status 1;
- ``require(db, Model, key, noun)`` for an id given on the command line: unknown is an error;
- any other exception becomes one line too (``describe`` below); ``PUNCHGATE_DEBUG=1``
  shows the traceback instead.

Exit codes: 0 success, 1 error, 2 usage (click's, for a wrong option or value).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click

from gateway.config import Settings


def open_gateway():
    """The gateway configured by the environment (PUNCHGATE_*)."""
    from gateway.state import Gateway

    return Gateway.from_settings(Settings.from_env())


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (dates and decimals as strings)."""
    click.echo(json.dumps(data, indent=2, default=str))


@dataclass(frozen=True)
class Column:
    """One column of a table: its header, the row key (or a function) and its width."""

    header: str
    key: str | Callable[[dict], Any]
    width: int = 0  # 0: as wide as the widest value
    right: bool = False

    def value(self, row: dict) -> str:
        value = self.key(row) if callable(self.key) else row.get(self.key)
        return "-" if value is None or value == "" else str(value)


def echo_table(
    rows: Sequence[dict], columns: Sequence[Column], empty: str, as_json: bool = False
) -> None:
    """Print rows as aligned columns (or ``empty`` when there are none), or as JSON."""
    if as_json:
        echo_json(list(rows))
        return
    if not rows:
        click.echo(empty)
        return
    cells = [[c.value(r) for c in columns] for r in rows]
    widths = [
        c.width or max(len(c.header), *(len(line[i]) for line in cells))
        for i, c in enumerate(columns)
    ]

    def line(values: Iterable[str]) -> str:
        parts = [
            v.rjust(w) if c.right else v.ljust(w)
            for v, w, c in zip(values, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    click.echo(line(c.header for c in columns))
    for values in cells:
        click.echo(line(values))


def fail(message: str) -> NoReturn:
    """Stop the command with a one-line error on stderr and exit status 1."""
    raise click.ClickException(message)


class Group(click.Group):
    """The ``punchgate`` group: configuration and database failures are one line, never a
    traceback (a wrong PUNCHGATE_DATABASE_URL, a database that is down or not migrated)."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

        from gateway.config import ConfigError
        from gateway.instance import StartupRefused, database_error

        if os.environ.get("PUNCHGATE_DEBUG") == "1":
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except (ConfigError, StartupRefused) as exc:
            fail(str(exc))
        except ProgrammingError as exc:
            fail(f"database not usable ({database_error(exc)}); run `punchgate db upgrade`?")
        except (OperationalError, DBAPIError) as exc:
            if "no such table" in str(exc.orig):  # SQLite's word for an unmigrated database
                fail(f"database not usable ({database_error(exc)}); run `punchgate db upgrade`?")
            fail(f"database unreachable: {database_error(exc)} (check PUNCHGATE_DATABASE_URL)")


def require(db, model, key, noun: str):
    """The row with this primary key, or an error naming it (never an empty answer)."""
    row = db.get(model, key)
    if row is None:
        fail(f"no {noun} {key!r}" if isinstance(key, str) else f"no {noun} {key}")
    return row


def describe(exc: BaseException) -> str:
    """One line for an unexpected exception: its kind and first line, no traceback."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(exc, (ArgumentError, NoSuchModuleError)):
        return f"PUNCHGATE_DATABASE_URL is not a usable database URL: {_first_line(exc)}"
    if isinstance(exc, DBAPIError):
        return f"database error: {_first_line(exc.orig or exc)}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PunchgateGroup(Group):
    """The top-level group: turns any unexpected exception into a one-line error."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("PUNCHGATE_DEBUG") == "1":
                raise
            raise click.ClickException(
                f"{describe(exc)} (PUNCHGATE_DEBUG=1 shows the traceback)"
            ) from None


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (the shape the README documents)."
)
limit_option = click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="At most N rows."
)

_AGO = re.compile(r"^(\d+)\s*([mhd])$")


class Since(click.ParamType):
    """``30m``, ``2h``, ``7d`` ago, or an ISO date or time (UTC when no zone is given)."""

    name = "since"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        if match := _AGO.match(value.strip()):
            unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
            return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            self.fail(f"{value!r} is not 30m, 2h, 7d or an ISO date/time", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


since_option = click.option(
    "--since", type=Since(), help="Only newer than this: 30m, 2h, 7d or an ISO date/time."
)
