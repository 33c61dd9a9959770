"""Tables, as typed SQLAlchemy models. Migrations in ``migrations/`` create them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    MetaData,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.inference.modelpack import EMBEDDING_DIMENSION
from core.records import Refusal

_REFUSALS = ", ".join(f"'{r.value}'" for r in Refusal)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _event_id() -> Mapped[uuid.UUID]:
    """Given by the kiosk where the event happened: a spooled event sent twice is
    stored once."""
    return mapped_column(unique=True, server_default=text("gen_random_uuid()"))


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'deleted')", name="status"),
        # A deleted person keeps only their id and dates: the name goes.
        CheckConstraint(
            "(status = 'active' AND display_name IS NOT NULL) "
            "OR (status = 'deleted' AND display_name IS NULL AND external_ref IS NULL)",
            name="personal_data",
        ),
        CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until",
            name="validity",
        ),
        Index(
            "uq_people_external_ref_active",
            "external_ref",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    display_name: Mapped[str | None] = mapped_column(String(200))
    external_ref: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    last_recognized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_from: Mapped[date | None] = mapped_column(Date)
    """The first day the person may pass a door (the door's local date); None: no start."""
    valid_until: Mapped[date | None] = mapped_column(Date)
    """The last day the person may pass a door; None: no end."""
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FaceTemplate(Base):
    __tablename__ = "face_templates"
    __table_args__ = (
        # The HNSW index is an expression index over halfvec: storage/vector_index.py
        # and migration 0004 make it.
        CheckConstraint("quality >= 0 AND quality <= 1", name="quality"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    embedding: Mapped[npt.NDArray[np.float32]] = mapped_column(Vector(EMBEDDING_DIMENSION))
    model: Mapped[str] = mapped_column(String(64))
    quality: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = created_at_column()


class Operator(Base):
    __tablename__ = "operators"
    __table_args__ = (CheckConstraint("role IN ('admin', 'enroller', 'auditor')", name="role"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(63), unique=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = created_at_column()
    session_epoch: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    """Moves on when the account is disabled, its role changes or its password is
    set: every session opened before then is refused at its next action."""


class ConsentRecord(Base):
    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(32))
    text_sha256: Mapped[str] = mapped_column(String(64))
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    witnessed_by: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    # The signed form's reference (kiosk-admin import); NULL: consent given at the kiosk.
    form_reference: Mapped[str | None] = mapped_column(String(128))


class AuditEvent(Base):
    """Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE); never biometric data.

    ``hash`` covers this event and ``prev_hash``, the hash of the event before
    it (core.administration.chains.chain_hash), so a changed or removed row
    breaks the chain; ``seq`` is its place in the chain, from 1, which the
    anchor outside the database counts (storage/chain_anchor.py).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = _event_id()
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    actor: Mapped[str] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class LoginThrottle(Base):
    """Failed logins per username, whether or not such an operator exists."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(63), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(server_default=text("0"))
    locks: Mapped[int] = mapped_column(server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KioskLoginThrottle(Base):
    """Failed logins per kiosk across all usernames: stops password spraying."""

    __tablename__ = "kiosk_login_throttle"

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccessEvent(Base):
    """Append-only and chained like AuditEvent; ``hash`` covers every field but ``id``
    (core.administration.chains.access_chain_hash). A person row it names cannot be
    deleted (people are erased, never deleted: storage/identity_store.py)."""

    __tablename__ = "access_events"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('granted', 'unknown', 'no_face', 'offline', 'liveness_failed', 'refused')",
            name="outcome",
        ),
        CheckConstraint("source IN ('door', 'cli')", name="source"),
        CheckConstraint(f"refusal IS NULL OR refusal IN ({_REFUSALS})", name="refusal"),
        CheckConstraint("(outcome = 'refused') = (refusal IS NOT NULL)", name="refused_why"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = _event_id()
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    kiosk_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("people.id", ondelete="RESTRICT"), index=True
    )
    similarity: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(8), server_default="door")
    refusal: Mapped[str | None] = mapped_column(String(24))
    """Which access rule refused a recognised person (core.records.Refusal)."""
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class StoredSetting(Base):
    """A setting shared by every kiosk (scope "*") or set for one kiosk (its id)."""

    __tablename__ = "settings"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(63))


class DoorCommand(Base):
    """An operator's command to one kiosk's door (kiosk-admin door), taken once by
    that kiosk: ``taken_at`` is set in the transaction that reads it."""

    __tablename__ = "door_commands"
    __table_args__ = (CheckConstraint("kind IN ('unlock', 'lockdown', 'release')", name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(200))
    operator: Mapped[str] = mapped_column(String(63))
    requested_at: Mapped[datetime] = created_at_column()
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DoorReport(Base):
    """Each kiosk's door as it last reported it (kiosk-admin door status)."""

    __tablename__ = "door_reports"

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    adapter: Mapped[str] = mapped_column(String(128))
    unlocked: Mapped[bool] = mapped_column(Boolean)
    door_open: Mapped[bool | None] = mapped_column(Boolean)
    lockdown: Mapped[bool] = mapped_column(Boolean)
    alarms: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    fault: Mapped[str | None] = mapped_column(String(300))
    stopped: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    """The kiosk's last report as it stopped cleanly (its lock forced locked)."""
    reported_at: Mapped[datetime] = created_at_column()


class Kiosk(Base):
    """Every kiosk that has used this database, by the id it records events under."""

    __tablename__ = "kiosks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = created_at_column()
    last_started_at: Mapped[datetime] = created_at_column()


class ApiKey(Base):
    """A machine client's key for kiosk-server (core.accounts.api_keys): only the
    SHA-256 of its secret is kept. It acts through an operator account of its own
    (``operator_id``), whose role is the key's and whose row every action
    re-reads, as it does a person's."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), unique=True
    )
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(63))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(63))
