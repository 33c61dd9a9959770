"""How the kiosk's OSDP reader stands with its door controller: the link, and what
became of the grants, frames and commands since the kiosk started."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReaderLink:
    """Whether the controller polls this reader, and over the secure channel."""

    online: bool
    secure: bool

    @property
    def usable(self) -> bool:
        return self.online and self.secure

    def describe(self) -> str:
        if not self.online:
            return "door controller not polling (OSDP)"
        if not self.secure:
            return "door controller without secure channel (OSDP)"
        return "door controller online (OSDP)"


class CardReadResult:
    """What became of a card read handed to the bus (ReaderStatus.card_reads)."""

    TAKEN = "taken"
    """The controller polled it."""
    WITHDRAWN = "withdrawn"
    """Not taken within osdp.grant_max_age_s, or the link went: never sent later."""
    FAILED = "failed"
    """libosdp gave up on it."""


class NotSent:
    """Why a grant never became a card read (ReaderStatus.not_sent); besides these,
    the badge's core.access.wiegand.Unsendable reasons."""

    CONTROLLER_OFFLINE = "controller_offline"
    TOO_LATE = "too_late"
    QUEUE_FULL = "queue_full"
    BADGE_UNREADABLE = "badge_unreadable"
    """The database did not give the badge number in time."""


@dataclass(frozen=True)
class ReaderStatus:
    link: ReaderLink
    card_reads: Mapping[str, int] = field(default_factory=dict)
    """CardReadResult -> how many."""
    not_sent: Mapping[str, int] = field(default_factory=dict)
    """NotSent or Unsendable value -> how many grants."""
    bad_frames: Mapping[str, int] = field(default_factory=dict)
    """osdp_reader.frames.FrameProblem value -> how many frames set aside."""
    commands: Mapping[str, int] = field(default_factory=dict)
    """Controller command ("led", "buzzer", "text", "keyset", "refused") -> how many."""
