"""The migrations build the indexes the models declare, no fewer and no more.

An index the models dropped but a database kept costs every insert a page; one the models
declare but the migrations never built leaves its queries scanning. The test database is
built by the migrations (tests/conftest.py), on SQLite or PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import inspect

from gateway.models import Base

# Built by migrations for what the models cannot say: the full-text search structures
# and the dialect-specific ones (see the migrations named).
MIGRATION_ONLY = {
    "ix_products_search_vector",  # 0017: PostgreSQL's GIN index over the tsvector
    # 0021, 0025: per dialect (PostgreSQL's over a prefix of the description)
    "ix_products_browse",
    "ix_products_browse_all",
}


def test_migrations_build_exactly_the_declared_indexes(gateway):
    inspector = inspect(gateway.db.engine)
    for table in Base.metadata.sorted_tables:
        declared = {index.name for index in table.indexes}
        built = {
            index["name"]
            for index in inspector.get_indexes(table.name)
            if not index.get("duplicates_constraint")  # a unique constraint's own index
        }
        assert declared == built - MIGRATION_ONLY, table.name


def test_events_request_id_is_not_indexed(gateway):
    """No query reads events by request id (migration 0024): no index to feed."""
    built = {index["name"] for index in inspect(gateway.db.engine).get_indexes("events")}
    assert "ix_events_request_id" not in built
    assert {"ix_events_session", "ix_events_buyer_at"} <= built
