"""Which door result goes with which grant on the door screen's banner."""

from __future__ import annotations

import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from enum import StrEnum

# Decisions and door results remembered for matching: a few seconds of a busy door.
_REMEMBERED = 16


class DoorResultKind(StrEnum):
    OPEN = "open"
    """The lock took the grant's unlock."""
    FAILED = "failed"
    """The lock did not take it: the person is told to call staff."""
    UNCONFIRMED = "unconfirmed"
    """The lock's answer was lost: it may have opened; the person is told to call staff."""
    REFUSED = "refused"
    """The door's rules kept it locked (lockdown, a grant that came too late)."""


@dataclass(frozen=True, kw_only=True)
class DoorResult:
    """What the door did for one grant (its access event ``event_id``)."""

    event_id: uuid.UUID
    kind: DoorResultKind
    seconds: float = 0.0
    """OPEN: how long the lock is released."""
    why: str = ""
    """REFUSED: the door's reason, for the screen."""


class GrantBanner:
    """Exists because a grant reaches the screen twice, from two threads: the decision
    from recognition and the door's result from the door's thread, each a queued
    signal, in either order. Matched by the access event's id, the banner ends the
    same whatever the order: a result that comes first waits for its decision, and a
    result for a decision the screen has already moved past is dropped, so "access
    granted" never covers "door open" and one person's "door open" never shows under
    the next person's decision. Used on the GUI thread only."""

    def __init__(self) -> None:
        self._shown: deque[uuid.UUID] = deque(maxlen=_REMEMBERED)
        """The decisions shown, newest last."""
        self._waiting: OrderedDict[uuid.UUID, DoorResult] = OrderedDict()
        """Door results that came before their decision."""

    def decision_shown(self, event_id: uuid.UUID) -> DoorResult | None:
        """A decision goes on the banner: its door result if that came first."""
        self._shown.append(event_id)
        return self._waiting.pop(event_id, None)

    def door_result(self, result: DoorResult) -> bool:
        """True: show ``result`` now, it belongs to the newest decision shown. False:
        kept until its decision is shown, or dropped (a newer decision is shown)."""
        if self._shown and self._shown[-1] == result.event_id:
            return True
        if result.event_id not in self._shown:
            self._waiting[result.event_id] = result
            while len(self._waiting) > _REMEMBERED:
                self._waiting.popitem(last=False)
        return False
