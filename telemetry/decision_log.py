"""Each access decision as one line of the JSON log."""

from __future__ import annotations

import logging

from core.records import AccessDecision

log = logging.getLogger("kiosk.decisions")


class DecisionLog:
    """A decision consumer: writes the decision's fields to the log, never the
    person's name unless ``with_names`` (a site's setting) asks for it."""

    def __init__(self, with_names: bool = False) -> None:
        self._with_names = with_names

    def consume(self, decision: AccessDecision) -> None:
        fields: dict[str, object] = {
            "event_id": str(decision.event_id),
            "kiosk_id": decision.kiosk_id,
            "outcome": decision.outcome.value,
            "person_id": str(decision.person_id) if decision.person_id else None,
            "similarity": decision.similarity,
            "reason": decision.reason,
            "latency_ms": round(decision.latency_ms, 1),
            "source": decision.source.value,
            # The silent alarm, for whatever reads the log; the door's screen never shows it.
            "duress": decision.duress,
        }
        if self._with_names:
            fields["person_name"] = decision.display_name
        log.info("door decision: %s", decision.outcome.value, extra=fields)
