"""products: the storefront's browsing order indexed on both databases

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04

A storefront page with no search words lists the live catalog, or one category of it, in
description order. Without an index for that order both databases read every product of
the page's scope and sort them to show 24: at 100,000 products the page every punchout
opens on (the whole catalog) took 13.5 ms in process on SQLite and 29.7 ms on PostgreSQL
(a parallel scan of the table), a category page 3.6 and 7.6 ms.

SQLite: ``ix_products_browse_all`` (description, sku) beside 0021's
``ix_products_browse`` (category, description, sku), both over live products.

PostgreSQL: a B-tree entry may not pass 2,704 bytes, and a description may be 2,000
characters of up to 4 bytes each (why 0021 left PostgreSQL out), so its indexes hold the
description's first ``PREFIX`` characters (at most 1,600 bytes, with a category of up to
400): ``ix_products_browse`` (category, left(description, 400)) and
``ix_products_browse_all`` (left(description, 400)). PostgreSQL's browsing order is then
(left(description, 400), description, sku): the index gives the first key and an
incremental sort orders the rare ties. Byte-wise (the C collations) that is exactly the
description order; under a linguistic collation two descriptions alike in their first 400
characters may come in the other order.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

PREDICATE = sa.text("retired_at IS NULL")
PREFIX = 400  # gateway.catalog.search.BROWSE_PREFIX


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index(
            "ix_products_browse_all",
            "products",
            ["description", "sku"],
            sqlite_where=PREDICATE,
        )
        return
    prefix = sa.text(f"left(description, {PREFIX})")
    op.create_index(
        "ix_products_browse",
        "products",
        [sa.text("category"), prefix],
        postgresql_where=PREDICATE,
    )
    op.create_index("ix_products_browse_all", "products", [prefix], postgresql_where=PREDICATE)


def downgrade() -> None:
    op.drop_index("ix_products_browse_all", table_name="products")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_index("ix_products_browse", table_name="products")
