"""The integrations' outbox: owner-only, bounded, one writer, bad lines set aside with a
reason, and what was sent stays sent across a restart."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from core.errors import ConfigurationError
from integrations.outbox import Outbox

LINE_BYTES = 4096


def message(n: int) -> dict[str, object]:
    return {"event_id": f"id-{n}", "n": n}


def test_files_are_owner_only_and_a_second_writer_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    outbox = Outbox(folder / "mqtt.jsonl", 10, LINE_BYTES)
    try:
        assert outbox.append(message(1))
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(outbox.path.stat().st_mode) == 0o600
        with pytest.raises(ConfigurationError, match="in use by another kiosk process"):
            Outbox(folder / "mqtt.jsonl", 10, LINE_BYTES)
    finally:
        outbox.close()


def test_it_is_bounded_and_counts_what_it_refused(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.jsonl", 3, LINE_BYTES)
    try:
        kept = [outbox.append(message(n)) for n in range(5)]
        assert kept == [True, True, True, False, False]
        assert (len(outbox), outbox.refused) == (3, 2)
        assert not outbox.append({"event_id": "big", "text": "x" * LINE_BYTES})
        assert outbox.set_aside_count == 1, "too long: set aside with its reason"
    finally:
        outbox.close()


def test_what_was_sent_stays_sent_and_the_rest_waits_in_order_across_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.jsonl"
    outbox = Outbox(path, 100, LINE_BYTES)
    for n in range(6):
        outbox.append(message(n))
    outbox.done(outbox.oldest(2))
    outbox.close()
    again = Outbox(path, 100, LINE_BYTES)
    try:
        assert [line.record["n"] for line in again.oldest(10)] == [2, 3, 4, 5]
        again.done(again.oldest(10))
        assert len(again) == 0
        assert not path.exists(), "nothing waits: the file is gone"
    finally:
        again.close()


def test_a_bad_line_is_set_aside_with_its_reason_and_never_blocks(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    outbox = Outbox(path, 100, LINE_BYTES)
    outbox.append(message(1))
    outbox.close()
    with path.open("a") as damaged:  # a line torn by a power cut, then garbage
        damaged.write('{"event_id": "id-2", "n"')
    outbox = Outbox(path, 100, LINE_BYTES)
    try:
        outbox.append({"no": "id"})
        outbox.append(message(3))
        first = outbox.oldest(10)
        assert [line.record["n"] for line in first] == [1]
        outbox.done(first)
        assert [line.record["n"] for line in outbox.oldest(10)] == [3]
        reasons = [
            json.loads(line)["reason"] for line in outbox.rejected_path.read_text().splitlines()
        ]
        assert reasons[0].startswith("not JSON")
        assert reasons[1] == "not a message: a JSON object with an event_id"
        assert stat.S_IMODE(outbox.rejected_path.stat().st_mode) == 0o600
    finally:
        outbox.close()


def test_a_long_sent_part_is_cut_off_and_the_offset_still_holds(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    outbox = Outbox(path, 100_000, LINE_BYTES)
    padding = "p" * 1000
    for n in range(1200):  # about 1.2 MB
        outbox.append({**message(n), "padding": padding})
    outbox.done(outbox.oldest(1100))
    assert path.stat().st_size < 200_000, "the sent part was cut off the file"
    outbox.close()
    again = Outbox(path, 100_000, LINE_BYTES)
    try:
        assert [line.record["n"] for line in again.oldest(200)] == list(range(1100, 1200))
    finally:
        again.close()
