"""The spool file on its own: order, lines set aside with a reason, one writer per file,
owner-only files, and a full disk that is reported rather than silent."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ConfigurationError
from core.log_records import KioskAuditEvent
from core.records import AccessDecision, AccessOutcome
from core.settings import SpoolSettings
from storage.event_log import OFFLINE_ACTION
from storage.spool import EventSpool, encode, line_of
from storage.spool_bounds import SpoolError, validate
from tests.spool_helpers import access, fill, small_disk, until_the_disk_refuses


def read_all(spool: EventSpool) -> list[object]:
    return [line.event for line in spool.oldest(10_000)]


def rejected(spool: EventSpool) -> list[dict[str, str]]:
    return [json.loads(line) for line in spool.rejected_path.read_text("ascii").splitlines()]


def test_the_spool_keeps_events_in_order_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "events.jsonl"
    events = [
        AccessDecision(kiosk_id="door-1", outcome=AccessOutcome.OFFLINE, latency_ms=12.5),
        KioskAuditEvent("door-1", OFFLINE_ACTION, {"reason": "connection refused"}),
        AccessDecision(
            kiosk_id="door-1",
            outcome=AccessOutcome.GRANTED,
            person_id=uuid.uuid4(),
            similarity=0.61,
            latency_ms=80.0,
        ),
    ]
    for event in events:
        with EventSpool(path) as spool:
            spool.append(event)
    with EventSpool(path) as reopened:
        assert reopened.path == path  # the same file: each writer before it has closed
        assert read_all(reopened) == events
        assert len(reopened) == 3
        reopened.forget(reopened.oldest(2))
    with EventSpool(path) as reopened:
        assert len(reopened) == 1
        assert read_all(reopened) == events[2:]
        reopened.forget(reopened.oldest(1))
        reopened.compact()
        assert not path.exists()
        assert read_all(reopened) == []
        assert list(reopened.history()) == []


def test_the_folder_and_every_file_of_the_spool_are_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    left_open = folder / "events.jsonl.rejected"  # as an older version left it
    left_open.write_text("")
    left_open.chmod(0o644)
    with EventSpool(folder / "events.jsonl", SpoolSettings(reserve_kb=4)) as spool:
        spool.append(access())
        spool.set_aside([("not an event", "a test")])
        spool.forget(spool.oldest(1))
        assert folder.stat().st_mode & 0o777 == 0o700
        modes = {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()}
    assert set(modes) >= {
        "events.jsonl",
        "events.jsonl.lock",
        "events.jsonl.sent",
        "events.jsonl.reserve",
        "events.jsonl.rejected",
    }
    assert set(modes.values()) == {0o600}, modes


def test_a_torn_or_edited_line_is_set_aside_with_its_reason_and_the_rest_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    first = access()
    last = AccessDecision(kiosk_id="door-1", outcome=AccessOutcome.OFFLINE, latency_ms=5.0)
    with EventSpool(path) as spool:
        spool.append(first)
    with path.open("a", encoding="utf-8") as stream:
        stream.write('{"kind": "access", "event_id": "not-a-uuid"}\n')
        stream.write('{"kind": "access", "outcome": "gran')  # the power went
    with EventSpool(path) as spool:
        spool.append(last)  # after the torn line, not glued to it
        assert read_all(spool) == [first]  # a bad line ends the batch...
        spool.forget(spool.oldest(1))
        assert read_all(spool) == [last]  # ...and is set aside when it is the oldest
        assert [entry["line"] for entry in rejected(spool)] == [
            '{"kind": "access", "event_id": "not-a-uuid"}',
            '{"kind": "access", "outcome": "gran',
        ]
        assert all(entry["reason"].startswith("not an event") for entry in rejected(spool))
        assert read_all(spool) == [last]  # set aside once, not again
        assert len(rejected(spool)) == 2
        assert spool.set_aside_count == 2


def _line(**changes: object) -> str:
    raw = encode(access())
    raw.update(changes)
    return json.dumps(raw)


POISONED = {
    "a kiosk id longer than its column": _line(kiosk_id="k" * 65),
    "a NUL in the kiosk id": _line(kiosk_id="door\u0000"),
    "a lone surrogate": _line(kiosk_id="door-\ud800"),
    "an outcome the database does not know": _line(outcome="opened"),
    "an infinite similarity": _line(similarity=1e999),
    "a number too large for a float": _line(latency_ms=10**400),
    "a negative latency": _line(latency_ms=-1),
    "no time zone": _line(occurred_at="2026-01-01T00:00:00"),
    "a date that overflows in UTC": _line(occurred_at="0001-01-01T00:00:00+05:00"),
    "an operator's action": json.dumps(
        {**encode(KioskAuditEvent("door-1", "kiosk.offline", {})), "action": "operator.add"}
    ),
    "an action longer than its column": json.dumps(
        {**encode(KioskAuditEvent("door-1", "kiosk.offline", {})), "action": "kiosk." + "x" * 60}
    ),
    "a NUL in the details": json.dumps(
        encode(KioskAuditEvent("door-1", "kiosk.offline", {"reason": "a\u0000b"}))
    ),
    "NaN in the details": json.dumps(
        encode(KioskAuditEvent("door-1", "kiosk.offline", {"n": float("nan")}))
    ),
    "nesting too deep to read": '{"kind": "audit", "details": ' + "[" * 5000 + "]" * 5000 + "}",
    "a line longer than any event": _line(kiosk_id="k" * 20_000),
}


@pytest.mark.parametrize("line", POISONED.values(), ids=POISONED.keys())
def test_a_line_the_database_could_not_hold_is_set_aside_when_read(
    tmp_path: Path, line: str
) -> None:
    good = access()
    with EventSpool(tmp_path / "events.jsonl") as spool:
        spool.path.write_text(line + "\n" + line_of(good) + "\n", "utf-8")
    with EventSpool(tmp_path / "events.jsonl") as spool:
        assert read_all(spool) == [good]
        (entry,) = rejected(spool)
        assert entry["reason"]
        assert entry["line"][:100] == line[:100]


def test_an_event_the_database_could_not_hold_is_never_written(tmp_path: Path) -> None:
    too_long = AccessDecision(kiosk_id="k" * 65, outcome=AccessOutcome.UNKNOWN, latency_ms=1.0)
    with pytest.raises(SpoolError, match="kiosk_id has 65 characters; its column holds 64"):
        validate(too_long)
    with EventSpool(tmp_path / "events.jsonl") as spool:
        with pytest.raises(SpoolError):
            spool.append(too_long)
        assert len(spool) == 0
        assert not spool.path.exists()


def test_a_second_writer_on_the_same_spool_gets_a_file_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    settings = SpoolSettings(writers=2)
    with EventSpool(path, settings) as first, EventSpool(path, settings) as second:
        assert first.path == path
        assert second.path == tmp_path / "events.1.jsonl"
        with pytest.raises(ConfigurationError, match=r"all 2 spool files .* are in use"):
            EventSpool(path, settings)
        first.append(access())
        second.append(access())
        assert first.take_orphans() == []  # both owners are alive
    with EventSpool(path, settings) as survivor:
        (orphan,) = survivor.take_orphans()  # the second writer has ended
        with orphan:
            assert orphan.path == tmp_path / "events.1.jsonl"
            assert len(orphan) == 1


def test_a_full_disk_uses_the_reserve_then_fails_loudly(tmp_path: Path) -> None:
    with (
        small_disk(tmp_path / "disk") as disk,
        EventSpool(disk / "spool" / "events.jsonl", SpoolSettings(reserve_kb=8)) as spool,
    ):
        assert spool.trouble is None
        filler = fill(disk)
        spool.append(access())
        assert spool.trouble is not None
        assert "uses its reserve" in spool.trouble
        kept, error = until_the_disk_refuses(lambda: spool.append(access()))
        assert kept >= 20  # the reserve's 8 KB held these
        assert "is full and its reserve is used up" in str(error)
        assert spool.trouble == str(error)
        assert "free space" in spool.trouble
        assert len(spool) == kept + 1
        assert len(spool.oldest(10_000)) == kept + 1  # every one kept is whole
        filler.unlink()
        spool.forget(spool.oldest(10_000))
        spool.compact()
        assert spool.trouble is None  # the reserve is back
        assert (disk / "spool" / "events.jsonl.reserve").stat().st_size == 8 * 1024


def test_an_event_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    with (
        small_disk(tmp_path / "disk") as disk,
        EventSpool(disk / "events.jsonl", SpoolSettings(reserve_kb=0)) as spool,
    ):
        spool.append(access())
        fill(disk)  # the file's last block still has room for a few lines
        sizes = [spool.path.stat().st_size]

        def append() -> None:
            spool.append(access())
            sizes.append(spool.path.stat().st_size)

        kept, _ = until_the_disk_refuses(append)
        assert spool.path.stat().st_size == sizes[-1]  # the failed write was cut back
        assert len(spool.oldest(10_000)) == kept + 1 == len(spool)
        assert not spool.rejected_path.exists()


def test_times_stay_exact_through_the_spool(tmp_path: Path) -> None:
    event = AccessDecision(
        kiosk_id="door-1",
        outcome=AccessOutcome.GRANTED,
        person_id=uuid.uuid4(),
        similarity=0.5,
        latency_ms=1.0,
        occurred_at=datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )
    with EventSpool(tmp_path / "events.jsonl") as spool:
        spool.append(event)
        assert read_all(spool) == [event]


def test_details_nested_past_the_bound_are_set_aside_not_sent() -> None:
    """A line nested ~1000 deep passed the checks and then overflowed the JSON encoder
    on every send, stopping the spool for good (found by an attack)."""
    from core.log_records import KioskAuditEvent
    from storage.spool_bounds import SpoolError, validate

    nested: object = "x"
    for _ in range(1000):
        nested = [nested]
    with pytest.raises(SpoolError, match="nests deeper"):
        validate(KioskAuditEvent("front", "kiosk.offline", {"x": nested}))
    validate(KioskAuditEvent("front", "kiosk.offline", {"reason": {"a": [1, 2]}}))
