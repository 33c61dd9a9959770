"""The decision log: one JSON line per decision, a name only where the site allows."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest

from core.records import AccessDecision, AccessOutcome
from telemetry.decision_log import DecisionLog
from telemetry.json_log import JsonFormatter


def granted() -> AccessDecision:
    return AccessDecision(
        kiosk_id="front",
        outcome=AccessOutcome.GRANTED,
        latency_ms=12.34,
        person_id=uuid.uuid4(),
        display_name="Yao Ming",
        similarity=0.71,
    )


@pytest.mark.parametrize("with_names", [False, True])
def test_a_decision_is_one_json_line_naming_the_person_only_when_allowed(
    tmp_path: Path, with_names: bool
) -> None:
    path = tmp_path / "decisions.jsonl"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("kiosk.decisions")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    decision = granted()
    try:
        DecisionLog(with_names).consume(decision)
    finally:
        logger.removeHandler(handler)
        handler.close()
    (line,) = path.read_text(encoding="utf-8").splitlines()
    fields = json.loads(line)
    assert fields["event_id"] == str(decision.event_id)
    assert fields["outcome"] == "granted"
    assert fields["latency_ms"] == 12.3
    assert ("Yao Ming" in line) is with_names
    assert fields.get("person_name") == ("Yao Ming" if with_names else None)
