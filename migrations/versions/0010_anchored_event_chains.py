"""Access events chained like audit events; both chains numbered for their anchor.

Each event gets ``seq``, its place in its chain from 1, which the anchor kept
outside the database counts (storage/chain_anchor.py). Access events get
``prev_hash`` and ``hash`` (core.administration.chains.access_chain_hash) and
the same append-only guard as audit events; the access events written before
this revision are chained in id order, so a database that already holds some
verifies from its first one. The hash covers ``source`` (0008) too: a CLI
identification cannot be turned into a door decision without breaking the
chain. A person named by an access event can no longer be deleted (people are
erased, never deleted, so nothing did): the foreign key was SET NULL, which
the guard would refuse anyway.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.administration.chains import GENESIS_HASH, access_chain_hash

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Rows read, hashed and written back per round trip while chaining old events.
_BATCH = 2000
_PERSON_FK = "fk_access_events_person_id_people"

ACCESS_GUARD = """
CREATE FUNCTION access_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER access_events_no_update_delete BEFORE UPDATE OR DELETE ON access_events
    FOR EACH ROW EXECUTE FUNCTION access_events_append_only();
CREATE TRIGGER access_events_no_truncate BEFORE TRUNCATE ON access_events
    FOR EACH STATEMENT EXECUTE FUNCTION access_events_append_only();
"""


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("seq", sa.BigInteger(), nullable=True))
    # The append-only guard is lifted for this one migration step only.
    op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
    op.execute(
        "UPDATE audit_events SET seq = numbered.n FROM "
        "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_events) AS numbered "
        "WHERE audit_events.id = numbered.id"
    )
    op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete")
    op.alter_column("audit_events", "seq", nullable=False)
    op.create_unique_constraint(op.f("uq_audit_events_seq"), "audit_events", ["seq"])

    for name, kind in (
        ("seq", sa.BigInteger()),
        ("prev_hash", sa.String(length=64)),
        ("hash", sa.String(length=64)),
    ):
        op.add_column("access_events", sa.Column(name, kind, nullable=True))
    _chain_existing_access_events()
    for name in ("seq", "prev_hash", "hash"):
        op.alter_column("access_events", name, nullable=False)
    op.create_unique_constraint(op.f("uq_access_events_seq"), "access_events", ["seq"])
    op.create_unique_constraint(op.f("uq_access_events_hash"), "access_events", ["hash"])
    op.drop_constraint(op.f(_PERSON_FK), "access_events", type_="foreignkey")
    op.create_foreign_key(
        op.f(_PERSON_FK), "access_events", "people", ["person_id"], ["id"], ondelete="RESTRICT"
    )
    op.execute(ACCESS_GUARD)


def _chain_existing_access_events() -> None:
    connection = op.get_bind()
    prev, seq, last_id = GENESIS_HASH, 0, 0
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT id, event_id, occurred_at, kiosk_id, outcome, person_id, similarity, "
                "latency_ms, source FROM access_events WHERE id > :after ORDER BY id "
                "LIMIT :batch"
            ),
            {"after": last_id, "batch": _BATCH},
        ).all()
        if not rows:
            return
        updates = []
        for row in rows:
            seq += 1
            digest = access_chain_hash(
                prev,
                row.event_id,
                row.occurred_at,
                row.kiosk_id,
                row.outcome,
                row.person_id,
                row.similarity,
                row.latency_ms,
                row.source,
            )
            updates.append({"id": row.id, "seq": seq, "prev": prev, "hash": digest})
            prev = digest
        connection.execute(
            sa.text(
                "UPDATE access_events SET seq = :seq, prev_hash = :prev, hash = :hash "
                "WHERE id = :id"
            ),
            updates,
        )
        last_id = rows[-1].id


def downgrade() -> None:
    op.execute("DROP TRIGGER access_events_no_truncate ON access_events")
    op.execute("DROP TRIGGER access_events_no_update_delete ON access_events")
    op.execute("DROP FUNCTION access_events_append_only()")
    op.drop_constraint(op.f(_PERSON_FK), "access_events", type_="foreignkey")
    op.create_foreign_key(
        op.f(_PERSON_FK), "access_events", "people", ["person_id"], ["id"], ondelete="SET NULL"
    )
    op.drop_constraint(op.f("uq_access_events_hash"), "access_events", type_="unique")
    op.drop_constraint(op.f("uq_access_events_seq"), "access_events", type_="unique")
    for name in ("hash", "prev_hash", "seq"):
        op.drop_column("access_events", name)
    op.drop_constraint(op.f("uq_audit_events_seq"), "audit_events", type_="unique")
    op.drop_column("audit_events", "seq")
