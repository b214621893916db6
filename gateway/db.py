"""Engine and session factory; SQLite gets the pragmas a concurrent web app needs."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

import gateway.limits  # noqa: F401  (registers the storage checks on every flush)
from gateway.cache import ConfigCache, LoginCache, watch

log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 1.0  # seconds


def make_engine(url: str, pool_size: int = 5) -> Engine:
    # hide_parameters: a database error's message must never quote a bound value
    # (a secret being stored) into a log or a traceback.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

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
            # request in fifty paid for it. A serving process checkpoints from a thread
            # instead (Database.start_checkpoints); this is the safety net, about 40 MB.
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # IMMEDIATE takes the write lock up front: two writers never
            # deadlock upgrading a read lock, they queue on busy_timeout.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

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


class Database:
    """One engine and session factory per application."""

    def __init__(self, url: str, pool_size: int = 5):
        self.url = url
        self.engine = make_engine(url, pool_size)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        watch(self.engine)
        # Buyer configuration and credentials, per process (see gateway/cache.py).
        self.config = ConfigCache()
        self.logins = LoginCache()  # OCI logins verified recently

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any exception.

        ``durable=False`` (PostgreSQL only): the commit returns before its WAL record
        is flushed to disk. A database crash can then lose that transaction (never
        corrupt anything), if it came in its last moments (up to three times
        ``wal_writer_delay``, 0.6 s by default). For what a buyer simply sends again
        when it is lost: a punchout setup or an OCI call, whose user sees an invalid
        start link and punches out once more. Never for an order.
        """
        with self.sessionmaker.begin() as session:
            if not durable and not self.url.startswith("sqlite"):
                session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            yield session

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
        self.engine.dispose()
