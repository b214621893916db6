"""PostgreSQL stores documents and payloads compressed with lz4 (migration 0023).

pglz made a large order's transaction spend about 200 ms compressing its document and
marketplace payload on the server.
"""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import text

from tests.documents import order_request

MIGRATION = importlib.import_module("gateway.migrations.versions.0023_lz4_documents")


@pytest.fixture
def postgres(gateway, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite stores values uncompressed")
    with gateway.db.engine.connect() as conn:
        if not MIGRATION._lz4_available(conn):
            pytest.skip("this PostgreSQL server is built without lz4")
    return gateway


def test_document_and_payload_columns_use_lz4(postgres):
    with postgres.db.engine.connect() as conn:
        for table, column in MIGRATION.COLUMNS:
            method = conn.execute(
                text(
                    "SELECT attcompression FROM pg_attribute "
                    "WHERE attrelid = CAST(:table AS regclass) AND attname = :column"
                ),
                {"table": table, "column": column},
            ).scalar()
            assert method == "l", f"{table}.{column} compresses with {method!r}"


def test_a_large_order_document_is_stored_lz4_compressed_and_reads_back(postgres, client, demo):
    lines = [
        {"sku": "NW-1001", "qty": "1", "price": "1.20", "aux": f"X-{i:06d}", "number": i + 1}
        for i in range(300)
    ]
    raw = order_request(lines=lines, order_id="PO-LZ4-1", total="360.00")
    answer = client.post("/cxml", data=raw, content_type="text/xml")
    assert b'code="200"' in answer.data
    with postgres.db.engine.connect() as conn:
        stored, method = conn.execute(
            text(
                "SELECT document, pg_column_compression(document) FROM events "
                "WHERE kind = 'document.in' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert method == "lz4"
    assert "PO-LZ4-1" in stored and stored.count("<ItemOut") == 300
