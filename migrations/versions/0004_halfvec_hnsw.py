"""Templates searched through a half-precision HNSW index, stored uncompressed in line.

The benchmark (PERFORMANCE.md) found the halfvec index half the size, faster to
build and faster to search at the same recall. A 512-d vector (2 KB) is just over
PostgreSQL's TOAST threshold, so by default each template lives out of line: exact
scans then read two relations, and CREATE INDEX plans no parallel workers because
the table itself looks tiny. PLAIN storage keeps templates in the table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE face_templates ALTER COLUMN embedding SET STORAGE PLAIN")
    op.execute("DROP INDEX IF EXISTS ix_face_templates_embedding_hnsw")
    op.execute(
        "CREATE INDEX ix_face_templates_embedding_hnsw ON face_templates "
        "USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops) "
        "WITH (m = 16, ef_construction = 64)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_face_templates_embedding_hnsw")
    op.execute(
        "CREATE INDEX ix_face_templates_embedding_hnsw ON face_templates "
        "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
    )
    op.execute("ALTER TABLE face_templates ALTER COLUMN embedding SET STORAGE EXTERNAL")
