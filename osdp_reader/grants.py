"""Each grant to the door controller, as the card read of the person's badge."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from core.access.reader_status import NotSent
from core.access.wiegand import BadgeRefused, CardBits, card_for_badge
from core.errors import StoreError
from core.osdp_settings import OsdpSettings
from core.records import AccessDecision

log = logging.getLogger(__name__)


class BadgeBook(Protocol):
    """Where a person's badge number is read (storage.badges.SqlBadgeBook)."""

    def badge_number(self, person_id: uuid.UUID) -> str | None:
        """The badge number of the enrolled person, None when they have none (or
        were deleted). Raises StoreError when it cannot be read."""
        ...


class CardReader(Protocol):
    """The bus side (osdp_reader.reader.OsdpReader)."""

    def send_card(self, card: CardBits, age_s: float) -> bool: ...

    def not_sent(self, reason: str) -> None: ...


class GrantSender:
    """A decision consumer (core.access.consumers.DecisionRelay runs it on a thread
    of its own): a grant becomes one card read; any other decision, nothing. A
    person whose badge the controller cannot know is set aside with the reason."""

    def __init__(
        self,
        reader: CardReader,
        badges: BadgeBook,
        osdp: OsdpSettings,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._reader = reader
        self._badges = badges
        self._osdp = osdp
        self._now = now

    def consume(self, decision: AccessDecision) -> None:
        if not decision.granted or decision.person_id is None:
            return
        try:
            badge = self._badges.badge_number(decision.person_id)
        except StoreError as error:
            log.error(
                "OSDP: grant %s not sent: its badge cannot be read (%s)", decision.event_id, error
            )
            self._reader.not_sent(NotSent.BADGE_UNREADABLE)
            return
        card = card_for_badge(badge, self._osdp)
        if isinstance(card, BadgeRefused):
            log.warning(
                "OSDP: grant %s (person %s) not sent: %s",
                decision.event_id,
                decision.person_id,
                card.text,
            )
            self._reader.not_sent(card.reason.value)
            return
        age_s = (self._now() - decision.occurred_at).total_seconds()
        if self._reader.send_card(card, age_s):
            log.info("OSDP: grant %s sent as a %d-bit card read", decision.event_id, card.length)
