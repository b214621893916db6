"""Pooled PostgreSQL connections are not pinged before use: one a restart broke is replaced."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.documents import setup_request, status


def test_setup_request_survives_a_dropped_connection(client, gateway, demo, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no server connection to lose")
    assert status(client.post("/cxml", data=setup_request()).data)[0] == 200
    # The pooled connection the next setup gets (from the pool of transactions that
    # commit without waiting for the disk, see gateway/db.py).
    with gateway.db.relaxed_engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(database_url)
    with admin.begin() as conn:  # as a database restart would
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    assert status(client.post("/cxml", data=setup_request(cookie="cookie-2")).data)[0] == 200
