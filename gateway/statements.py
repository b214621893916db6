"""The hottest statements, compiled once and run on the driver's cursor.

``Connection.execute`` spends about 0.1 ms of Python on every statement (cache key,
execution context, result wrapping) before the driver sees it; the events, session and
request-log rows and the first read of every punchout request are most of a setup's
statements. These run the very SQL and bind and result processing SQLAlchemy compiles
for them (JSON, SQLite datetimes), and driver errors come out as SQLAlchemy's
exceptions, with a dead connection invalidated, exactly as ``execute`` would raise
them: callers cannot tell the difference.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection, Executable


def announce(conn: Connection, cursor, sql: str, params, many: bool) -> None:
    """What ``execute`` tells ``before_cursor_execute`` listeners, for a driver call."""
    # Listeners still see every statement (tests and benchmarks count them). The engine
    # always has some (``after_execute``, gateway/cache.py), rarely this one; asking the
    # connection's joined dispatcher first cost 15 calls a statement.
    if conn._has_events:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, params, None, many)
    elif conn.engine._has_events:
        listeners = conn.engine.dispatch.before_cursor_execute
        if listeners:
            listeners(conn, cursor, sql, params, None, many)


# psycopg runs ``executemany`` in pipeline mode, whose setup and sync cost more than the
# rows of a setup's events; up to this many rows go as one multi-row VALUES instead.
VALUES_ROWS = 100
_NAMED = re.compile(r"%\((\w+)\)s")


def _values_sql(sql: str, rows: int) -> str:
    """``INSERT ... VALUES (%(a)s, ...)`` for ``rows`` rows, row i's names suffixed ``__i``."""
    start = sql.index(" VALUES (") + len(" VALUES ")
    depth = 0
    for end in range(start, len(sql)):  # the tuple's end (casts like NUMERIC(12, 4) nest)
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        if depth == 0:
            break
    one = sql[start : end + 1]
    many = ", ".join(_NAMED.sub(rf"%(\1__{i})s", one) for i in range(rows))
    return sql[:start] + many + sql[end + 1 :]


class Prepared:
    """A statement (an INSERT or SELECT most often), compiled per dialect and set of
    columns on first use."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._returns = bool(getattr(statement, "_returning", None))
        self._compiled: dict[tuple, list] = {}
        self._values: dict[tuple[str, int], str] = {}

    def _compile(self, dialect, keys: tuple[str, ...]) -> list:
        found = self._compiled.get((dialect, keys))
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
            processors = compiled._bind_processors
            names = compiled.positiontup or tuple(compiled.bind_names.values())
            # Values bound in the statement itself (``id == 1``) are its defaults.
            given = compiled.construct_params(dict.fromkeys(keys))
            fixed = {k: v for k, v in given.items() if k not in keys}
            binds = tuple((name, processors.get(name)) for name in names)
            types = tuple(column.type for column in compiled._result_columns)
            # The result processors depend on the driver's type codes (psycopg converts
            # NUMERIC by its OID): set from the cursor's description on the first fetch.
            found = [compiled.string, binds, compiled.positional, types, fixed, None]
            self._compiled[(dialect, keys)] = found
        return found

    @staticmethod
    def _processors(dialect, types, description) -> tuple:
        """(column index, processor) of the columns that have one."""
        found = (
            kind._cached_result_processor(dialect, column[1])
            for kind, column in zip(types, description, strict=True)
        )
        return tuple((at, proc) for at, proc in enumerate(found) if proc is not None)

    @staticmethod
    def _params(binds, positional: bool, row: dict):
        if positional:
            return [proc(row[name]) if proc else row[name] for name, proc in binds]
        return {name: proc(row[name]) if proc else row[name] for name, proc in binds}

    def _run(self, conn: Connection, rows: Sequence[dict], fetch: bool, every: bool = False):
        compiled = self._compile(conn.dialect, tuple(rows[0]))
        sql, binds, positional, types, fixed, results = compiled
        if fixed:
            rows = [{**fixed, **row} for row in rows]
        params = [self._params(binds, positional, row) for row in rows]
        cursor = conn.connection.dbapi_connection.cursor()
        many = len(params) > 1
        announce(conn, cursor, sql, params, many)
        try:
            if many and not positional and len(params) <= VALUES_ROWS:
                key = (sql, len(params))
                found = self._values.get(key)
                if found is None:
                    found = self._values[key] = _values_sql(sql, len(params))
                cursor.execute(
                    found, {f"{k}__{i}": v for i, row in enumerate(params) for k, v in row.items()}
                )
                return None
            if many:
                cursor.executemany(sql, params)
                return None
            cursor.execute(sql, params[0])
            if not fetch:
                return None
            if every:
                found = cursor.fetchall()
            else:
                row = cursor.fetchone()
                found = [] if row is None else [row]
            if not found:
                return [] if every else None
            if results is None:
                results = compiled[5] = self._processors(conn.dialect, types, cursor.description)
            if results:
                found = [list(row) for row in found]
                for row in found:
                    for at, proc in results:
                        row[at] = proc(row[at])
            found = [tuple(row) for row in found]
            return found if every else found[0]
        except conn.dialect.loaded_dbapi.Error as exc:
            conn._handle_dbapi_exception(exc, sql, params, cursor, None)
            raise  # not reached: the call above raises SQLAlchemy's wrapper
        finally:
            cursor.close()

    def insert(self, conn: Connection, rows: Sequence[dict]):
        """Insert ``rows`` (all with the same keys); the new id if the statement returns one."""
        found = self._run(conn, rows, fetch=self._returns)
        return found[0] if found is not None else None

    def insert_all(self, conn: Connection, rows: Sequence[dict]) -> None:
        """Insert many rows (all with the same keys) in bulk; nothing is returned.

        PostgreSQL: one COPY. ``executemany`` there runs the INSERT once per row on
        the server (psycopg pipelines the rows, but each is still a statement to
        execute): about 0.06 ms a row, 600 ms for a 10,000-line order. The values
        are the ones the INSERT would bind (same processors), dumped by psycopg's
        own adapters. Elsewhere the INSERT with ``executemany``.
        """
        if conn.dialect.name != "postgresql" or self._returns:
            self._run(conn, rows, fetch=False)
            return
        sql, binds, _, _, fixed, _ = self._compile(conn.dialect, tuple(rows[0]))
        copy = self._copy_sql(conn.dialect, tuple(name for name, _ in binds))
        if fixed:
            rows = [{**fixed, **row} for row in rows]
        params = [self._params(binds, True, row) for row in rows]
        cursor = conn.connection.dbapi_connection.cursor()
        announce(conn, cursor, copy, params, True)
        try:
            with cursor.copy(copy) as loading:
                for values in params:
                    loading.write_row(values)
        except conn.dialect.loaded_dbapi.Error as exc:
            conn._handle_dbapi_exception(exc, copy, params, cursor, None)
            raise  # not reached: the call above raises SQLAlchemy's wrapper
        finally:
            cursor.close()

    def _copy_sql(self, dialect, names: tuple[str, ...]) -> str:
        found = self._compiled.get((dialect, "copy", names))
        if found is None:
            table = self.statement.table
            quote = dialect.identifier_preparer
            columns = ", ".join(quote.format_column(table.c[name]) for name in names)
            found = f"COPY {quote.format_table(table)} ({columns}) FROM STDIN"
            self._compiled[(dialect, "copy", names)] = found
        return found

    def run(self, conn: Connection, params: dict) -> None:
        """An UPDATE or DELETE (or an INSERT of one row) whose result nobody reads."""
        self._run(conn, [params], fetch=False)

    def first(self, conn: Connection, params: dict | None = None) -> tuple | None:
        """The first row of a SELECT, its values converted as SQLAlchemy would, or None."""
        return self._run(conn, [params or {}], fetch=True)

    def all(self, conn: Connection, params: dict | None = None) -> list[tuple]:
        """Every row of a SELECT, converted as ``first`` converts one."""
        return self._run(conn, [params or {}], fetch=True, every=True)
