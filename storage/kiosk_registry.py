"""The kiosks that use this database, each under the id its events carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import sessionmaker

from storage import schema
from storage.transactions import transaction


@dataclass(frozen=True)
class KioskRecord:
    id: str
    name: str
    version: str
    first_seen_at: datetime
    last_started_at: datetime


def register_kiosk(engine: Engine, kiosk_id: str, name: str, version: str) -> None:
    """Record that this kiosk started, under its current name and version."""
    statement = pg_insert(schema.Kiosk).values(id=kiosk_id, name=name, version=version)
    statement = statement.on_conflict_do_update(
        index_elements=[schema.Kiosk.id],
        set_={"name": name, "version": version, "last_started_at": func.now()},
    )
    with transaction(sessionmaker(engine)) as session:
        session.execute(statement)


def kiosks(engine: Engine) -> list[KioskRecord]:
    with transaction(sessionmaker(engine)) as session:
        rows = session.scalars(select(schema.Kiosk).order_by(schema.Kiosk.id))
        return [
            KioskRecord(k.id, k.name, k.version, k.first_seen_at, k.last_started_at) for k in rows
        ]
