"""Consent given on a signed form (issue 28, kiosk-admin import): the form's reference
beside the consent text's version and SHA-256.

Existing consent records were all given at the kiosk, witnessed in person: their
reference stays NULL.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "consent_records", sa.Column("form_reference", sa.String(length=128), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("consent_records", "form_reference")
