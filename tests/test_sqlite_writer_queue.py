"""SQLite: writers queue on a lock file instead of polling SQLite's lock with sleeps.

The file lock spans exactly a write transaction (BEGIN IMMEDIATE to COMMIT or
ROLLBACK), so another process can tell from it alone whether a writer is in.
"""

from __future__ import annotations

import fcntl
import os
import threading

import pytest
from sqlalchemy import text

from gateway.db import Database


@pytest.fixture
def sqlite_db(database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL queues writers itself")
    db = Database(f"sqlite:///{tmp_path / 'queue.db'}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    yield db
    db.dispose()


def _writer_busy(path: str) -> bool:
    """Whether some connection holds the writer lock (asked as another process would)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def test_the_lock_spans_the_transaction_and_ends_with_commit_or_rollback(sqlite_db, tmp_path):
    lock = str(tmp_path / "queue.db.writer")
    with sqlite_db.transaction() as db:
        db.execute(text("UPDATE counter SET n = n + 1"))
        assert _writer_busy(lock)
    assert not _writer_busy(lock)

    with pytest.raises(RuntimeError), sqlite_db.transaction() as db:
        db.execute(text("UPDATE counter SET n = n + 1"))
        assert _writer_busy(lock)
        raise RuntimeError("the request failed")
    assert not _writer_busy(lock)
    with sqlite_db.engine.connect() as conn:
        assert conn.scalar(text("SELECT n FROM counter")) == 1


def test_a_lock_held_elsewhere_makes_a_writer_wait_then_go_on(sqlite_db, tmp_path):
    lock = str(tmp_path / "queue.db.writer")
    with sqlite_db.transaction() as db:  # the lock file exists once a writer came
        db.execute(text("SELECT 1"))
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process in a write transaction
    done = threading.Event()

    def write():
        with sqlite_db.transaction() as db:
            db.execute(text("UPDATE counter SET n = n + 1"))
        done.set()

    worker = threading.Thread(target=write)
    worker.start()
    try:
        assert not done.wait(0.5), "the writer did not wait for the lock"
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    worker.join(10)
    assert done.is_set()


def test_concurrent_writers_lose_no_update(sqlite_db):
    def work():
        for _ in range(100):
            with sqlite_db.transaction() as db:
                n = db.execute(text("SELECT n FROM counter")).scalar_one()
                db.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with sqlite_db.engine.connect() as conn:
        assert conn.scalar(text("SELECT n FROM counter")) == 400


def test_without_a_lock_file_writes_still_work(database_url, tmp_path):
    """A lock file that cannot be opened (a read-only folder): SQLite's lock serialises."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    (tmp_path / "queue.db.writer").mkdir()  # what no one, not even root, opens for writing
    db = Database(f"sqlite:///{tmp_path / 'queue.db'}")
    with db.transaction() as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalar() == 1
    db.dispose()


def test_a_reading_unit_of_work_reads_beside_a_writer_and_writes_its_events_after(
    sqlite_db, tmp_path
):
    from gateway.models import Base
    from gateway.sessions.events import record

    Base.metadata.create_all(sqlite_db.engine)
    lock = str(tmp_path / "queue.db.writer")
    seen = {}
    read_done = threading.Event()

    def read():
        with sqlite_db.reading() as db:
            seen["busy"] = _writer_busy(lock)
            seen["n"] = db.execute(text("SELECT n FROM counter")).scalar()
            record(db, "test.read", "a page was read")
            read_done.set()
        # Here its event is written: that waits for the writer, as any write does.

    with sqlite_db.transaction() as writer:
        writer.execute(text("UPDATE counter SET n = 41"))
        reader = threading.Thread(target=read)
        reader.start()
        # A deadlock guard, not a timing: a reader that queued would wait for this block.
        read_inside = read_done.wait(10)
    reader.join(10)
    assert read_inside and not reader.is_alive()
    # It read beside the uncommitted write (the last committed value), the writer's
    # lock held all along.
    assert seen == {"busy": True, "n": 0}
    with sqlite_db.transaction() as db:
        kinds = db.execute(text("SELECT kind FROM events")).scalars().all()
    assert kinds == ["test.read"]
