"""Engine and session factory; SQLite gets the pragmas a concurrent web app needs."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

import gateway.limits  # noqa: F401  (registers the storage checks on every flush)
from gateway.cache import ConfigCache, LoginCache, watch
from gateway.statements import announce

log = logging.getLogger(__name__)
# How often a serving process's thread copies the WAL into the database (a passive
# checkpoint). A passive checkpoint does not restart the WAL (writers keep appending),
# so the commit that crosses wal_autocheckpoint still checkpoints: what it copies and
# syncs is what came since the thread's last pass. A setup request writes about 34
# pages; with one pass a second that commit took 35 ms and the writers queued behind it.
CHECKPOINT_EVERY = 0.1  # seconds
AUTOCHECKPOINT = 10_000  # pages (about 40 MB of -wal file)
# With the thread copying, the commit's checkpoint restarts the WAL and syncs what the
# thread had not copied yet (about 10 ms here), and it is rarer: one setup request in 1,500
# instead of one in 300. At 360 setups a second through gunicorn, p99 was 15.8 ms with
# 10,000 pages and 6-7 ms with 50,000. The -wal file grows to about 200 MB.
SERVING_AUTOCHECKPOINT = 50_000  # pages


_held = threading.local()  # whether this thread holds the writer lock
# Set while ``Database.reading`` begins its transaction: a plain (deferred) BEGIN.
_reading: ContextVar[bool] = ContextVar("punchgate_reading", default=False)


class _QueuedConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue on a file lock (``<db>.writer``).

    SQLite makes a second writer poll for its lock with sleeps of 1, 2, 5, 10, 15, 20,
    25… ms: with two gunicorn workers the waiting one mostly slept through the moment
    the lock came free, so two workers served fewer setup requests than one. A blocked
    ``flock`` wakes the moment the holder lets go. The file lock is held exactly from
    BEGIN IMMEDIATE to COMMIT or ROLLBACK (the span SQLite holds its own write lock),
    the kernel drops it with a process that dies, and SQLite's lock stays the real
    guard: a writer that does not queue here (the sqlite3 shell, an older instance)
    is still serialised by it.
    """

    writer_fd = -1
    _queued = False

    def queue(self) -> None:
        if self.writer_fd < 0:
            return
        if getattr(_held, "count", 0):
            # This thread already writes on another connection (a nested unit of work):
            # queueing would wait for itself. SQLite's busy timeout decides, as before.
            return
        fcntl.flock(self.writer_fd, fcntl.LOCK_EX)
        self._queued = True
        _held.count = 1

    def _leave(self) -> None:
        if self._queued:
            self._queued = False
            _held.count = 0
            fcntl.flock(self.writer_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._leave()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._forget()

    def __del__(self) -> None:
        # A connection dropped without close() must not keep the lock file open: its
        # lock would outlive it and stop every other writer.
        self._forget()

    def _forget(self) -> None:
        if self.writer_fd >= 0:
            self._leave()
            os.close(self.writer_fd)
            self.writer_fd = -1


def _writer_lock_path(url: str) -> str | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}.writer"


def make_engine(url: str, pool_size: int = 5) -> Engine:
    # hide_parameters: a database error's message must never quote a bound value
    # (a secret being stored) into a log or a traceback.
    if url.startswith("sqlite"):
        lock_path = _writer_lock_path(url)
        wal = {"autocheckpoint": AUTOCHECKPOINT}
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "factory": _QueuedConnection},
            hide_parameters=True,
        )
        engine.punchgate_wal = wal  # Database.start_checkpoints raises the threshold

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # pysqlite's own transaction handling is off so that SQLAlchemy's
            # BEGIN (emitted below) is the one that starts every transaction.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # A checkpoint runs inside the commit that crosses the threshold and ends in
            # an fsync: at SQLite's default (1,000 pages, about 50 setup requests) one
            # request in fifty paid for it. See Database.start_checkpoints.
            cur.execute(f"PRAGMA wal_autocheckpoint={wal['autocheckpoint']}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            if lock_path and isinstance(dbapi_connection, _QueuedConnection):
                try:
                    dbapi_connection.writer_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                except OSError:  # a read-only folder: SQLite's own lock serialises writers
                    log.debug("no writer lock file %s", lock_path, exc_info=True)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # IMMEDIATE takes the write lock up front: two writers never
            # deadlock upgrading a read lock; they queue on the writer lock.
            # ``Database.reading`` begins a plain (deferred) transaction, unqueued.
            dbapi = conn.connection.dbapi_connection
            sql = "BEGIN" if _reading.get() else "BEGIN IMMEDIATE"
            queued = sql == "BEGIN IMMEDIATE" and isinstance(dbapi, _QueuedConnection)
            if queued:
                dbapi.queue()
            try:
                # On the driver: exec_driver_sql costs a statement's worth of Python.
                announce(conn, None, sql, (), False)
                dbapi.execute(sql)
            except BaseException as exc:
                if queued:
                    dbapi._leave()
                if isinstance(exc, sqlite3.Error):
                    conn._handle_dbapi_exception(exc, sql, (), None, None)
                raise

        return engine
    # Sized for gunicorn's sync workers: one request at a time per process, so a
    # few connections each (the overflow covers threaded servers and the outbox).
    # No pre-ping: it would cost a round trip on every checkout. A connection a
    # database restart broke fails once, SQLAlchemy then replaces the whole pool,
    # and POST /cxml retries that request on a fresh connection.
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=2 * pool_size,
        pool_recycle=3600,
        pool_use_lifo=True,
        hide_parameters=True,
    )


def _commit_without_waiting(dbapi_connection, _record) -> None:
    # A setting of the connection's session: rolling back a transaction keeps it.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    dbapi_connection.commit()


class Database:
    """One engine and session factory per application."""

    def __init__(self, url: str, pool_size: int = 5):
        self.url = url
        self.engine = make_engine(url, pool_size)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        watch(self.engine)
        # PostgreSQL: a second pool whose connections commit without waiting for the disk
        # (see ``transaction``). A ``SET LOCAL`` per transaction instead cost a round trip
        # on every setup request. Connections are made on first use: a process that never
        # opens such a transaction (the outbox worker) never holds one.
        self.relaxed_engine = self.engine
        self._relaxed = self.sessionmaker
        if not url.startswith("sqlite"):
            self.relaxed_engine = make_engine(url, pool_size)
            event.listen(self.relaxed_engine, "connect", _commit_without_waiting)
            watch(self.relaxed_engine)
            self._relaxed = sessionmaker(self.relaxed_engine, expire_on_commit=False)
        # Buyer configuration and credentials, per process (see gateway/cache.py).
        self.config = ConfigCache()
        self.logins = LoginCache()  # OCI logins verified recently

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any exception.

        ``durable=False`` (PostgreSQL only): on the second pool, whose connections run
        with ``synchronous_commit`` off: the commit returns before its WAL record is
        flushed to disk. A database crash can then lose that transaction (never
        corrupt anything), if it came in its last moments (up to three times
        ``wal_writer_delay``, 0.6 s by default). For what a buyer simply sends again
        when it is lost: a punchout setup or an OCI call, whose user sees an invalid
        start link and punches out once more, and a cart change, which the user sees
        missing from the cart and makes again. Never for an order or a transfer.
        """
        with (self.sessionmaker if durable else self._relaxed).begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A unit of work that reads, and at most records session-log events.

        SQLite: a deferred transaction, which takes no write lock and does not queue
        behind the writers: storefront pages of several workers read side by side
        instead of one after the other. The events it records are written after it,
        in a short write transaction of their own (``durable=False``). Anything else it
        writes fails when another process wrote since it began: never write in one.
        PostgreSQL: ``transaction(durable=False)``, events included.
        """
        if self.relaxed_engine is not self.engine:
            with self.transaction(durable=False) as session:
                yield session
            return
        from gateway.sessions import events

        with self.sessionmaker.begin() as session:
            token = _reading.set(True)
            try:
                session.connection()  # BEGIN now, while the flag says how
            finally:
                _reading.reset(token)
            yield session
            pending = events.take_pending(session)
        if pending:
            with self.transaction(durable=False) as session:
                events.put_pending(session, pending)

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine of this database (one on SQLite, two on PostgreSQL)."""
        if self.relaxed_engine is self.engine:
            return (self.engine,)
        return (self.engine, self.relaxed_engine)

    def start_checkpoints(self, every: float = CHECKPOINT_EVERY) -> threading.Event | None:
        """SQLite: copy the WAL into the database from a thread of this process.

        A passive checkpoint waits for no reader or writer and blocks none (its fsync
        runs outside the GIL), so the commits of requests no longer stop for one. For
        serving processes (wsgi.py); set the returned event to stop the thread.
        """
        path = self.engine.url.database if self.url.startswith("sqlite") else None
        if not path or path == ":memory:":
            return None
        stop = threading.Event()
        # Connections opened from here on leave the checkpoints to the thread, but for
        # the rare one that starts the WAL over (see SERVING_AUTOCHECKPOINT).
        self.dispose()
        self.engine.punchgate_wal["autocheckpoint"] = SERVING_AUTOCHECKPOINT

        def run() -> None:
            conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
            try:
                while not stop.wait(every):
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:  # another process is checkpointing: next time
                        log.debug("WAL checkpoint skipped", exc_info=True)
            finally:
                conn.close()

        threading.Thread(target=run, name="sqlite-checkpoints", daemon=True).start()
        return stop

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()
