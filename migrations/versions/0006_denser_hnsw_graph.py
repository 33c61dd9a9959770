"""A denser HNSW graph over the templates: m 32, ef_construction 128 (was 16 and 64).

In two full benchmark runs (PERFORMANCE.md) the denser graph found the right
person more often for the same search time at every gallery size: at 100,000
templates, recall@1 0.964-0.968 against 0.898-0.902 at about 8 ms p50, and
0.992-0.998 against 0.958-0.968 at about 12 ms. It costs a build four times as long (about 4 minutes at 100,000 on 2
cores, once, here) and a fifth more space. The kiosk's ef_search default goes
from 200 to 100 with it. The table is locked while the index builds, so
searches on a shared server answer "busy" until it is done
(docs/central-server.md).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_INDEX = "ix_face_templates_embedding_hnsw"
# The graph is built in memory when it fits (about 170 MB at 100,000 templates);
# otherwise pgvector builds it on disk, many times slower.
_BUILD_MEMORY = "SET LOCAL maintenance_work_mem = '1GB'"


def _rebuild(m: int, ef_construction: int) -> None:
    op.execute(_BUILD_MEMORY)
    op.execute(f"DROP INDEX IF EXISTS {_INDEX}")
    op.execute(
        f"CREATE INDEX {_INDEX} ON face_templates "
        "USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops) "
        f"WITH (m = {m}, ef_construction = {ef_construction})"
    )


def upgrade() -> None:
    _rebuild(32, 128)


def downgrade() -> None:
    _rebuild(16, 64)
