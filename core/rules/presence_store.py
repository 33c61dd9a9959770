"""What anti-passback needs from persistent storage; storage.area_presence implements it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from core.records import Operator
from core.rules.passback import PassbackVerdict
from core.store import DenialLog


@dataclass(frozen=True)
class DoorPassage:
    """One person passing one door, judged and (unless refused) stored."""

    person_id: uuid.UUID
    kiosk_id: str
    verdict: PassbackVerdict
    mark: uuid.UUID | None = None
    """Carried by the presence rows this passage wrote (None: it wrote none), so that
    a withdrawal puts back only rows no later passage has changed."""


@dataclass(frozen=True)
class PersonInside:
    """Someone an area counts as inside (kiosk-admin areas inside)."""

    person_id: uuid.UUID
    inside_since: datetime
    door: str
    counts_until: datetime
    """The daily reset: from then on they count as outside."""


class AreaPresence(Protocol):
    """The door's anti-passback step."""

    def pass_door(
        self, person_id: uuid.UUID, kiosk_id: str, at: datetime, zone: ZoneInfo
    ) -> DoorPassage:
        """Judge ``person_id`` passing ``kiosk_id`` at ``at`` (aware; ``zone`` is the
        door's) in every area the door belongs to, and store where they are after,
        as one transaction that holds their presence rows locked from the read to
        the write: of two kiosks passing one person at once, the second sees the
        first's entry. Nothing is stored for a refusal. Raises StoreBusy when
        another kiosk holds the rows too long, StoreError when the database fails
        (the door stays closed)."""
        ...

    def withdraw(self, passage: DoorPassage) -> None:
        """Put back the presence ``passage`` stored, where no later passage changed
        it: its grant was never recorded, so the person did not pass. Raises
        StoreError when the database fails."""
        ...


class AreaPresenceAdmin(AreaPresence, DenialLog, Protocol):
    def inside(self, area: str, *, actor: Operator, at: datetime) -> list[PersonInside]:
        """Who ``area`` counts as inside at ``at`` (READ_ACCESS_LOG), earliest entry
        first. Raises NotFound for an unknown area."""
        ...

    def reset(
        self,
        area: str,
        *,
        actor: Operator,
        at: datetime,
        person_id: uuid.UUID | None = None,
    ) -> int:
        """Count ``person_id`` (everyone when None) as outside ``area`` (EDIT_RULES),
        audited as ``area.presence_reset``; returns how many it counted as inside
        at ``at``. Raises NotFound for an unknown area."""
        ...
