"""Spooled events reach the real database: refused ones set aside with the reason, the
door never waiting on an unanswering server, outages paired, two kiosk processes on one
spool losing nothing, and a full disk reported."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from core.records import AccessDecision, AccessOutcome
from core.settings import SpoolSettings
from kiosk.kiosk_screen import KioskScreen
from kiosk.spool_flusher import SpoolFlusher
from storage.database import connect, ensure_database
from storage.embedded import DATABASE_NAME, EmbeddedServer
from storage.event_log import OFFLINE_ACTION, ONLINE_ACTION, ResilientEventLog
from storage.identity_store import insert_access_event
from storage.migrate import upgrade
from storage.spool import EventSpool, line_of
from telemetry.metrics import KioskMetrics
from tests.spool_helpers import (
    access,
    audit_notes,
    engine_for,
    fill,
    small_disk,
    stored_event_ids,
    unanswering_address,
    until_the_disk_refuses,
)
from tests.test_spool import POISONED

# A record that goes to the spool touches only the local disk.
RECORD_BOUND_S = 0.5


@pytest.fixture
def refused_engine() -> Iterator[Engine]:
    """An engine for a port nobody listens on: each connection is refused at once."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    engine = engine_for("127.0.0.1", port, connect_timeout_s=2)
    yield engine
    engine.dispose()


def spool_at(tmp_path: Path, **settings: int) -> EventSpool:
    return EventSpool(tmp_path / "spool" / "events.jsonl", SpoolSettings(**settings))


def pairs(engine: Engine, kiosk_id: str) -> list[str]:
    return [
        action
        for action, target, _ in audit_notes(engine)
        if target == kiosk_id and action in (OFFLINE_ACTION, ONLINE_ACTION)
    ]


# ---- what the database refuses -------------------------------------------------------------


def test_the_database_itself_refuses_what_the_spool_sets_aside(db_engine: Engine) -> None:
    """The spool's bounds are the database's: without them this line would be sent."""
    too_long = AccessDecision(kiosk_id="k" * 65, outcome=AccessOutcome.UNKNOWN, latency_ms=1.0)
    with Session(db_engine) as session, pytest.raises(DataError, match="too long"):
        insert_access_event(session, too_long)


def test_poisoned_lines_are_set_aside_and_every_good_event_is_stored(
    db_engine: Engine, tmp_path: Path
) -> None:
    good = [access() for _ in range(len(POISONED) + 1)]
    with spool_at(tmp_path) as spool:
        lines = [line_of(good[0])]
        for poisoned, event in zip(POISONED.values(), good[1:], strict=True):
            lines += [poisoned, line_of(event)]
        spool.path.write_text("\n".join(lines) + "\n", "utf-8")
    with spool_at(tmp_path) as spool:
        events = ResilientEventLog(db_engine, spool, "door-1")
        metrics = KioskMetrics()
        metrics.watch_spool(events)
        assert events.flush() == len(good)
        assert events.pending == 0
        assert events.set_aside == len(POISONED)
        assert metrics.registry.get_sample_value("kiosk_spool_set_aside_events") == len(POISONED)
        reasons = [json.loads(line)["reason"] for line in spool.rejected_path.open()]
    assert stored_event_ids(db_engine) == [event.event_id for event in good]
    assert len(reasons) == len(POISONED)
    assert "kiosk_id has 65 characters; its column holds 64" in reasons


def test_an_event_the_database_refuses_is_found_and_set_aside_the_rest_stored(
    db_engine: Engine, tmp_path: Path
) -> None:
    """A rule the kiosk does not know (here a CHECK added to the table): the batch
    fails, the event is found one by one and set aside, its neighbours stored."""
    with db_engine.begin() as connection:
        connection.execute(
            text("ALTER TABLE access_events ADD CONSTRAINT test_latency CHECK (latency_ms < 1e5)")
        )
    bad = access(latency_ms=2e5)
    before, after = [access() for _ in range(5)], [access() for _ in range(3)]
    with spool_at(tmp_path, batch_events=4) as spool:
        for spooled in (*before, bad, *after):
            spool.append(spooled)
        events = ResilientEventLog(db_engine, spool, "door-1")
        assert events.flush() == len(before) + len(after)
        assert events.pending == 0
        assert events.set_aside == 1
        (entry,) = [json.loads(line) for line in spool.rejected_path.open()]
    assert "test_latency" in entry["reason"]
    assert entry["reason"].startswith("refused by the database")
    assert json.loads(entry["line"])["event_id"] == str(bad.event_id)
    assert stored_event_ids(db_engine) == [e.event_id for e in (*before, *after)]


def test_a_decision_the_database_refuses_is_set_aside_and_the_door_goes_on(
    db_engine: Engine, tmp_path: Path
) -> None:
    with db_engine.begin() as connection:
        connection.execute(
            text("ALTER TABLE access_events ADD CONSTRAINT test_latency CHECK (latency_ms < 1e5)")
        )
    with spool_at(tmp_path) as spool:
        events = ResilientEventLog(db_engine, spool, "door-1")
        refused, later = access(latency_ms=2e5), access()
        events.record_access(refused)  # does not raise
        events.record_access(later)
        assert not events.offline
        assert events.set_aside == 1
        assert events.pending == 0
    assert stored_event_ids(db_engine) == [later.event_id]


# ---- the offline path never waits on the network -------------------------------------------


@pytest.mark.slow  # a real process of its own
def test_once_offline_a_decision_never_waits_on_a_server_that_does_not_answer(
    tmp_path: Path,
) -> None:
    with unanswering_address() as (host, port):
        engine = engine_for(host, port, connect_timeout_s=3)
        connecting = threading.Event()
        event.listen(engine, "do_connect", lambda *args: connecting.set())
        with spool_at(tmp_path) as spool:
            events = ResilientEventLog(engine, spool, "door-1")
            events.record_access(access())  # finds out: waits once, for the timeout
            assert events.offline
            connecting.clear()
            flusher = threading.Thread(target=events.flush)
            flusher.start()
            assert connecting.wait(5), "the flusher tries the server"
            slowest = 0.0
            for _ in range(20):
                started = time.monotonic()
                events.record_access(access())
                slowest = max(slowest, time.monotonic() - started)
                assert events.pending >= 1  # readable too while the flusher waits
            assert flusher.is_alive(), "the flusher was still waiting on the server"
            flusher.join(10)
            assert not flusher.is_alive()
            assert slowest < RECORD_BOUND_S
            assert events.pending == 22  # the note that it went offline, and 21 decisions
        engine.dispose()


# ---- outages stay paired -------------------------------------------------------------------


def test_an_outage_left_open_by_a_stopped_kiosk_is_closed_once_when_it_returns(
    db_engine: Engine, refused_engine: Engine, tmp_path: Path
) -> None:
    with spool_at(tmp_path) as spool:
        down = ResilientEventLog(refused_engine, spool, "door-1")
        spooled = [access() for _ in range(3)]
        for decision in spooled:
            down.record_access(decision)
        assert down.offline
        assert down.flush() == 0
        down.close()  # the kiosk stops while the database is down
    with spool_at(tmp_path) as spool:
        events = ResilientEventLog(db_engine, spool, "door-1")
        assert events.offline  # found in the spool: decisions keep their order
        later = access()
        events.record_access(later)
        assert events.pending == 5
        assert events.flush() == 6  # the note, four decisions, and the closing note
        assert not events.offline
        assert events.flush() == 0
        assert not spool.path.exists()
    assert stored_event_ids(db_engine) == [e.event_id for e in (*spooled, later)]
    notes = [(a, d) for a, target, d in audit_notes(db_engine) if target == "door-1"]
    assert [action for action, _ in notes] == [OFFLINE_ACTION, ONLINE_ACTION]
    assert notes[1][1]["events_spooled"] == 4


def test_an_outage_left_by_another_kiosk_id_in_this_folder_is_closed_for_it(
    db_engine: Engine, refused_engine: Engine, tmp_path: Path
) -> None:
    with spool_at(tmp_path) as spool:
        ResilientEventLog(refused_engine, spool, "old-name").record_access(access("old-name"))
    with spool_at(tmp_path) as spool:
        events = ResilientEventLog(db_engine, spool, "new-name")
        events.flush()
        assert events.pending == 0
    assert pairs(db_engine, "old-name") == [OFFLINE_ACTION, ONLINE_ACTION]
    closing = next(d for a, _, d in audit_notes(db_engine) if a == ONLINE_ACTION)
    assert closing["closed_by"] == "new-name"
    assert pairs(db_engine, "new-name") == []


# ---- a full disk -----------------------------------------------------------------------------


def test_a_full_disk_with_the_database_down_is_reported_and_the_pair_kept(
    db_engine: Engine, refused_engine: Engine, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        path = disk / "spool" / "events.jsonl"
        with EventSpool(path, SpoolSettings(reserve_kb=8)) as spool:
            down = ResilientEventLog(refused_engine, spool, "door-1")
            metrics = KioskMetrics()
            metrics.watch_spool(down)
            filler = fill(disk)
            kept: list[AccessDecision] = []

            def record() -> None:
                decision = access()
                down.record_access(decision)
                kept.append(decision)

            _, error = until_the_disk_refuses(record)
            assert str(disk / "spool") in str(error)  # names the disk to free
            assert down.lost == 1
            assert down.trouble is not None
            assert "free space" in down.trouble
            assert metrics.registry.get_sample_value("kiosk_spool_trouble") == 1
            assert metrics.registry.get_sample_value("kiosk_spool_lost_events") == 1
            assert down.pending == len(kept) + 1  # and the note that it went offline
            filler.unlink()
            down.close()
        with EventSpool(path, SpoolSettings(reserve_kb=8)) as spool:
            events = ResilientEventLog(db_engine, spool, "door-1")
            events.flush()
            assert events.pending == 0
            assert events.trouble is None
    assert stored_event_ids(db_engine) == [decision.event_id for decision in kept]
    assert pairs(db_engine, "door-1") == [OFFLINE_ACTION, ONLINE_ACTION]


def test_the_flusher_tells_the_operator_when_the_spool_uses_its_reserve(
    qtbot: QtBot, refused_engine: Engine, tmp_path: Path
) -> None:
    with (
        small_disk(tmp_path / "disk") as disk,
        EventSpool(disk / "events.jsonl", SpoolSettings(reserve_kb=4)) as spool,
    ):
        events = ResilientEventLog(refused_engine, spool, "door-1")
        fill(disk)
        events.record_access(access())  # kept, in the reserve
        screen = KioskScreen()
        qtbot.addWidget(screen)
        screen.show_status("door-1 · embedded PostgreSQL")
        flusher = SpoolFlusher(events, interval_s=0.05)
        flusher.trouble_changed.connect(screen.show_spool_trouble)
        try:
            with qtbot.waitSignal(
                flusher.trouble_changed, check_params_cb=lambda text: "reserve" in text
            ):
                flusher.start()
        finally:
            flusher.stop()
        assert "free space" in screen.status.text()
        assert str(disk) not in screen.status.text()  # the public screen names no path


# ---- two kiosk processes, one spool --------------------------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path / "postgres")
    server.start()
    yield server
    server.close()


class Kiosk:
    """One kiosk process (tests.spool_worker) on the shared spool."""

    def __init__(self, spool: Path, url: str, kiosk_id: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.spool_worker", str(spool), url, kiosk_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        )

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict[str, object]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the kiosk process ended ({self.process.wait()})"
        answer: dict[str, object] = json.loads(line)
        assert "error" not in answer, answer
        return answer

    def ask(self, command: str) -> dict[str, object]:
        self.send(command)
        return self.answer()

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(30)


def both(kiosks: list[Kiosk], command: str) -> list[dict[str, object]]:
    """Send ``command`` to every kiosk before reading any answer: they work at once."""
    for kiosk in kiosks:
        kiosk.send(command)
    return [kiosk.answer() for kiosk in kiosks]


@pytest.mark.slow
def test_two_kiosk_processes_on_one_spool_lose_nothing(
    own_server: EmbeddedServer, tmp_path: Path
) -> None:
    ensure_database(own_server.admin_url(), DATABASE_NAME)
    url = own_server.admin_url().replace("/postgres?", f"/{DATABASE_NAME}?")
    engine = connect(url)
    upgrade(engine)
    spool = tmp_path / "data" / "spool" / "events.jsonl"
    kiosks = [Kiosk(spool, url, "door-a"), Kiosk(spool, url, "door-b")]
    try:
        both(kiosks, "record 10")  # online: straight to the database
        own_server.close()
        down = both(kiosks, "record 30")  # offline: both spool, each flushing meanwhile
        assert all(answer["pending"] == 31 for answer in down)
        assert len({answer["spool"] for answer in down}) == 2  # one writer per file
        own_server.start()
        both(kiosks, "record 30")  # appending and sending at once, in both processes
        both(kiosks, "drain")
        survivor, ended = kiosks
        ended.ask("record 1")  # back online: straight to the database
        own_server.close()
        ended.ask("record 5")  # spooled; then the process is killed
        survivor_ids = survivor.ask("ids")["ids"]
        ended_ids = ended.ask("ids")["ids"]
        os.kill(ended.process.pid, signal.SIGKILL)  # our own child, by its pid
        ended.process.wait(30)
        own_server.start()
        assert survivor.ask("drain")["pending"] == 0  # sends what the ended process left
    finally:
        for kiosk in kiosks:
            kiosk.stop()
    assert isinstance(survivor_ids, list)
    assert isinstance(ended_ids, list)
    stored = {str(event_id) for event_id in stored_event_ids(engine)}
    assert stored == set(survivor_ids) | set(ended_ids)
    assert len(stored) == 70 + 76  # 10 + 30 + 30 each, and 1 + 5 more by the one killed
    assert pairs(engine, "door-a") == [OFFLINE_ACTION, ONLINE_ACTION]
    assert pairs(engine, "door-b") == [OFFLINE_ACTION, ONLINE_ACTION] * 2
    assert not list(spool.parent.glob("*.rejected"))
    engine.dispose()
