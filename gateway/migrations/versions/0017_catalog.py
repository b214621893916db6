"""catalog: product images, texts, quantity rules, retirement; search index and vocabulary

Revision ID: 0017
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from gateway.models import Money, UTCDateTime

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None

# SQLite: an external-content FTS5 table over products.search_text, kept in step
# by triggers (rowid is the products table's own rowid).
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE product_fts USING fts5(search_text, content='products', "
    "content_rowid='rowid', tokenize=\"unicode61 remove_diacritics 0 tokenchars ''\", "
    "prefix='1 2 3')",
    "CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN "
    "INSERT INTO product_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); END",
    "CREATE TRIGGER products_fts_update AFTER UPDATE OF search_text ON products BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); "
    "INSERT INTO product_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
]
# PostgreSQL: a generated tsvector of the same folded words, GIN-indexed.
POSTGRES_FTS = [
    "ALTER TABLE products ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED",
    "CREATE INDEX ix_products_search_vector ON products USING gin (search_vector)",
]


def upgrade() -> None:
    for name, type_ in [
        ("eclass", sa.String(20)),
        ("image_url", sa.String(1000)),
        ("long_description", sa.Text()),
        ("keywords", sa.Text()),
        ("min_quantity", Money()),
        ("quantity_step", Money()),
        ("price_unit", Money()),
        ("retired_at", UTCDateTime()),
    ]:
        op.add_column("products", sa.Column(name, type_, nullable=True))
    for name in ("search_text", "description_terms", "part_keys"):
        op.add_column("products", sa.Column(name, sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_products_category", "products", ["category"])
    op.create_table(
        "search_terms",
        sa.Column("term", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_search_terms")),
    )
    op.create_table(
        "search_term_variants",
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("term", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("variant", "term", name=op.f("pk_search_term_variants")),
    )
    bind = op.get_bind()
    for statement in SQLITE_FTS if bind.dialect.name == "sqlite" else POSTGRES_FTS:
        op.execute(statement)
    # Products loaded before this revision get their search text now.
    from sqlalchemy.orm import Session

    from gateway.catalog.search import reindex_all

    with Session(bind=bind) as db:
        reindex_all(db)
        db.flush()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER products_fts_{trigger}")
        op.execute("DROP TABLE product_fts")
    else:
        op.execute("DROP INDEX ix_products_search_vector")
        op.execute("ALTER TABLE products DROP COLUMN search_vector")
    op.drop_table("search_term_variants")
    op.drop_table("search_terms")
    op.drop_index("ix_products_category", "products")
    with op.batch_alter_table("products") as batch_op:
        for name in (
            "part_keys",
            "description_terms",
            "search_text",
            "retired_at",
            "price_unit",
            "quantity_step",
            "min_quantity",
            "keywords",
            "long_description",
            "image_url",
            "eclass",
        ):
            batch_op.drop_column(name)
