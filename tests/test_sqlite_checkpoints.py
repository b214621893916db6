"""SQLite: a serving process copies the WAL into the database from a thread of its own.

Without it, one commit in every few thousand pages written runs the checkpoint itself
(copy, then fsync) and the request behind that commit waits for it.
"""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import insert

from gateway.models import Event, utcnow


def test_the_wal_reaches_the_database_without_a_commit_checkpointing(gateway, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL checkpoints on its own")
    path = gateway.db.engine.url.database
    rows = [
        {"at": utcnow(), "kind": "bench", "message": "x", "data": {}, "document": "d" * 2000}
        for _ in range(1000)
    ]
    with gateway.db.transaction() as db:  # about 2 MB: far below wal_autocheckpoint
        db.connection().execute(insert(Event.__table__), rows)
    before = os.path.getsize(path)
    stop = gateway.db.start_checkpoints(every=0.05)
    try:
        deadline = time.monotonic() + 10
        while os.path.getsize(path) < before + 1_500_000 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
    assert os.path.getsize(path) >= before + 1_500_000, "the WAL was never checkpointed"


def test_no_thread_for_a_server_database(gateway, database_url):
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    assert gateway.db.start_checkpoints() is None
