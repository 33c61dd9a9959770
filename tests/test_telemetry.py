"""The JSON log: one object per line, with the fields a decision carries, rotated."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ConfigurationError
from core.settings import TelemetrySettings
from telemetry.json_log import LOG_FILE, log_to_files


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger as it was before the test, afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in root.handlers[len(handlers) :]:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_decision_is_one_json_line_with_its_event_id(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    path = log_to_files(tmp_path, TelemetrySettings(log_level="info"))
    assert path == tmp_path / "logs" / LOG_FILE
    logging.getLogger("kiosk.controller").info(
        "door decision: %s", "granted", extra={"event_id": "e-1", "similarity": 0.61}
    )
    logging.getLogger("kiosk.controller").debug("below the level: not written")
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert len(lines) == 1
    assert lines[0]["message"] == "door decision: granted"
    assert lines[0]["level"] == "info"
    assert lines[0]["event_id"] == "e-1"
    assert lines[0]["similarity"] == 0.61
    assert lines[0]["time"].endswith("+00:00")


def test_the_log_rotates_and_keeps_only_so_many_files(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    path = log_to_files(tmp_path, TelemetrySettings(log_file_max_mb=1, log_files_kept=2))
    for number in range(3000):
        logging.getLogger("test").warning("line %d %s", number, "x" * 1000)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == [LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2"]
    assert path.stat().st_size <= 1024 * 1024


def test_a_log_folder_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    # A file where the data folder should be: named, with the fix, never written through.
    with pytest.raises(ConfigurationError, match="is not a folder; the kiosk needs one there"):
        log_to_files(blocked, TelemetrySettings())
    assert blocked.read_text() == ""


def test_a_consumer_that_fails_shows_in_the_metrics_at_once_not_at_the_next_decision() -> None:
    from core.access.consumers import DecisionRelay
    from core.records import AccessDecision, AccessOutcome
    from telemetry.metrics import KioskMetrics

    class Failing:
        def consume(self, decision: AccessDecision) -> None:
            raise RuntimeError("webhook down")

    metrics = KioskMetrics()
    relay = DecisionRelay([("webhook", Failing())], 4)
    metrics.watch_consumers(relay.counts)
    labels = {"consumer": "webhook", "kind": "failed"}
    name = "kiosk_decision_consumer_problems"
    assert metrics.registry.get_sample_value(name, labels) == 0
    relay.consume(AccessDecision(kiosk_id="k", outcome=AccessOutcome.UNKNOWN, latency_ms=1.0))
    relay.close(timeout_s=5)  # the one decision was handed over, and failed
    assert metrics.registry.get_sample_value(name, labels) == 1  # no other decision since
