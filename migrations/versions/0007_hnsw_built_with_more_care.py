"""The HNSW graph built with ef_construction 400 (was 128), m 32 as before.

A graph built with a wider candidate list links each template to truer
neighbours, so a search finds the right person after fewer steps. On the same
100,000 synthetic templates and the same 500 genuine queries, recall@1 at
ef_search 40 went from 0.958 (128) to 0.988 (256) and 0.990 (400), and at
ef_search 60 from 0.984 to 0.996 and 1.000 (PERFORMANCE.md); the search time at
a given ef_search changes little. The kiosk's quick search goes from ef_search
40 to 50 with it. The build takes two to three times as long as 0006's
(8-11 minutes at 100,000 templates on 2 cores, once, here), and the table
is locked while it builds, so searches on a shared server answer "busy" until
it is done (docs/central-server.md). Each enrollment's insert searches the
graph as widely, a few tens of milliseconds at 100,000.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEX = "ix_face_templates_embedding_hnsw"
# As in 0006: the graph is built in memory when it fits.
_BUILD_MEMORY = "SET LOCAL maintenance_work_mem = '1GB'"


def _rebuild(ef_construction: int) -> None:
    op.execute(_BUILD_MEMORY)
    op.execute(f"DROP INDEX IF EXISTS {_INDEX}")
    op.execute(
        f"CREATE INDEX {_INDEX} ON face_templates "
        "USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops) "
        f"WITH (m = 32, ef_construction = {ef_construction})"
    )


def upgrade() -> None:
    _rebuild(400)


def downgrade() -> None:
    _rebuild(128)
