"""Anti-passback areas as part of the stored rule set (storage/rules_apply.py)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from core.rules.model import AntiPassbackArea, PassbackMode
from core.rules.passback import DoorRole
from storage import area_schema as aps


def read_areas(session: Session) -> tuple[AntiPassbackArea, ...]:
    """Every area with its entry and exit doors, by name."""
    doors: dict[int, dict[DoorRole, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in session.scalars(select(aps.AreaDoor)):
        doors[row.area_id][DoorRole(row.role)].add(row.kiosk_id)
    return tuple(
        AntiPassbackArea(
            area.name,
            frozenset(doors[area.id][DoorRole.ENTRY]),
            frozenset(doors[area.id][DoorRole.EXIT]),
            PassbackMode(area.mode),
        )
        for area in session.scalars(select(aps.Area).order_by(aps.Area.name))
    )


def store_areas(session: Session, areas: tuple[AntiPassbackArea, ...]) -> None:
    """Make the stored areas ``areas``, in the caller's transaction, after the doors.

    An area is kept by name, with the people inside it: importing the same rules
    again, or changing an area's mode or doors, clears no one. An area the rules
    leave out goes, and its presence with it."""
    stored = {row.name: row for row in session.scalars(select(aps.Area))}
    wanted = {area.name for area in areas}
    gone = sorted(row.id for name, row in stored.items() if name not in wanted)
    if gone:
        # Locked in id order first, the order the doors lock areas in: no deadlock.
        session.execute(
            select(aps.Area.id).where(aps.Area.id.in_(gone)).order_by(aps.Area.id).with_for_update()
        )
        session.execute(delete(aps.Area).where(aps.Area.id.in_(gone)))
    for area in areas:
        row = stored.get(area.name)
        if row is None:
            area_id = session.execute(
                insert(aps.Area).values(name=area.name, mode=area.mode.value).returning(aps.Area.id)
            ).scalar_one()
        else:
            row.mode = area.mode.value
            area_id = row.id
            session.execute(delete(aps.AreaDoor).where(aps.AreaDoor.area_id == area_id))
        roles = [(door, DoorRole.ENTRY) for door in area.entry]
        roles += [(door, DoorRole.EXIT) for door in area.exit]
        session.execute(
            insert(aps.AreaDoor),
            [
                {"area_id": area_id, "kiosk_id": door, "role": role.value}
                for door, role in sorted(roles)
            ],
        )
    session.flush()
