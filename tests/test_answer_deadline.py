"""A database that takes a request and never answers does not freeze the door.

The server of these tests is stopped for real (SIGSTOP to its postmaster and every
backend: the kernel still takes the connections and acknowledges the packets, nothing
answers), and a listening socket that never reads stands for a stalled proxy. Each
test resumes what it stopped in a ``finally``, and a timer resumes it anyway if a call
under test hangs, so that a regression fails the test instead of freezing the run.
"""

from __future__ import annotations

import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from core.access.door import DoorRecognizer
from core.access.door_builder import build_door
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.errors import StoreUnresponsive
from core.records import AccessDecision, AccessOutcome, Role
from core.settings import DoorSettings, ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage import schema
from storage.database import connect
from storage.embedded import EmbeddedServer
from storage.event_log import ResilientEventLog
from storage.identity_store import SqlIdentityStore
from storage.migrate import upgrade
from storage.operator_store import SqlOperatorStore
from storage.spool import EventSpool

DEADLINE_S = 2.5  # database.query_deadline_s: the least the setting allows, for speed
# What a frame costs besides the wait (detection and embedding on a busy 2-core machine).
MARGIN_S = 2.0
RESUME_ANYWAY_S = 60.0
SETTLE_S = 30.0
KIOSK = "door-1"

_numbers = iter(range(1_000_000))


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + SETTLE_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {SETTLE_S} s"
        time.sleep(0.05)


# ---- a server of this module's own, which the tests stop --------------------------------


@pytest.fixture(scope="module")
def stoppable_server() -> Iterator[EmbeddedServer]:
    """Not the session's server: stopping that one would stall every other test. In a
    folder outside pytest's (another pytest run re-permissions /tmp/pytest-of-*)."""
    folder = Path(tempfile.mkdtemp(prefix="kiosk-test-stopped-"))
    server = EmbeddedServer(folder / "postgres")
    server.start()
    yield server
    server.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database_url(stoppable_server: EmbeddedServer) -> Iterator[str]:
    name = f"kiosk_stopped_{next(_numbers)}"
    admin = create_engine(stoppable_server.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield stoppable_server.url(name)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = connect(database_url, query_deadline_s=DEADLINE_S)
    upgrade(made)
    yield made
    made.dispose()


def server_processes(server: EmbeddedServer) -> list[psutil.Process]:
    """The verified postmaster of ``server`` (storage.postmaster) and its backends."""
    pid = server.postmaster_pid()
    assert pid is not None, "the test's server is not running"
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


@contextmanager
def stopped(server: EmbeddedServer) -> Iterator[None]:
    """The whole server frozen: it takes connections and packets, and answers none."""
    processes = server_processes(server)

    def resume() -> None:
        for process in processes:
            with suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)

    # A hung call under test would otherwise wait forever; resumed, it returns late
    # and the test fails on its timing.
    safety = threading.Timer(RESUME_ANYWAY_S, resume)
    try:
        for process in processes:
            process.send_signal(signal.SIGSTOP)
        safety.start()
        yield
    finally:
        safety.cancel()
        resume()


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    try:
        result: object = call()
    except Exception as error:  # noqa: BLE001 - the test looks at what was raised
        result = error
    return time.monotonic() - started, result


def stored_event_ids(engine: Engine) -> list[uuid.UUID]:
    with Session(engine) as session:
        query = select(schema.AccessEvent.event_id).order_by(schema.AccessEvent.id)
        return list(session.scalars(query))


def search_backends(engine: Engine) -> set[int]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'face-kiosk search' "
                "AND datname = current_database()"
            )
        )
        return {int(row.pid) for row in rows}


# ---- the door -------------------------------------------------------------------------


def load(path: Path) -> np.ndarray:
    return read_image_file(path, ImageLimits())


def decide_one(door: DoorRecognizer, face: np.ndarray) -> AccessDecision:
    """Frames of one person until the door decides (a fresh track each time)."""
    door.forget()
    for dx in range(0, 40, 2):
        shifted = cv2.warpAffine(face, np.float32([[1, 0, dx], [0, 1, 0]]), face.shape[1::-1])
        outcome = door.process(shifted)
        if outcome.decision is not None:
            return outcome.decision
    raise AssertionError("the door decided nothing on 20 frames of one face")


@pytest.mark.slow
def test_a_stopped_server_makes_the_door_offline_within_the_deadline_and_loses_nothing(
    stoppable_server: EmbeddedServer,
    engine: Engine,
    face_engine: FaceEngine,
    settings: Settings,
    photos: Path,
    yaoming_jpg: Path,
    tmp_path: Path,
) -> None:
    admin = SqlOperatorStore(engine).add_first_operator("alice", "bcrypt$unused", Role.ADMIN)
    store = SqlIdentityStore(engine)
    enrollment = EnrollmentService(face_engine, store, settings.matching)
    enrollment.enroll(admin, "Yao Ming", None, [("y", load(yaoming_jpg))], current_consent(), True)
    spool = EventSpool(tmp_path / "spool.jsonl")
    events = ResilientEventLog(engine, spool, KIOSK)
    door_settings = settings.model_copy(
        update={
            "kiosk_id": KIOSK,
            "door": DoorSettings(frames_to_confirm=1, offline_retry_s=0.001),
            "security": SecuritySettings(recognition_max_denied=1000),
        }
    )
    door = build_door(engine=face_engine, store=store, settings=door_settings, events=events)
    face = load(photos / "yaoming_in_players.jpg")
    embedding = face_engine.identification_sample(face, "probe").embedding

    granted = decide_one(door, face)
    assert granted.outcome is AccessOutcome.GRANTED
    stuck_backends = search_backends(engine)
    assert stuck_backends, "the search has a connection of its own"

    with stopped(stoppable_server):
        took, offline = timed(lambda: decide_one(door, face))
        assert isinstance(offline, AccessDecision), offline
        assert offline.outcome is AccessOutcome.OFFLINE
        assert took <= DEADLINE_S + MARGIN_S, f"the door waited {took:.1f} s"
        # Kept: in the spool, after the note that the kiosk went offline.
        assert events.offline
        assert offline.event_id in [line.event.event_id for line in spool.oldest(10)]

        # Searches that keep failing cost one deadline each, and no thread each.
        threads_before = threading.active_count()
        for _ in range(3):
            took, failed = timed(
                lambda: store.nearest_people(embedding, face_engine.template_model, 5, 40)
            )
            assert isinstance(failed, StoreUnresponsive), failed
            assert "database.query_deadline_s" in str(failed)
            assert took <= DEADLINE_S + MARGIN_S, f"a search waited {took:.1f} s"
        # At most: a thread an earlier test left may end meanwhile, never one more.
        assert threading.active_count() <= threads_before

        # The spool's sender gives up within the deadline too, and keeps everything.
        waiting = events.pending
        took, sent = timed(events.flush)
        assert sent == 0
        assert took <= DEADLINE_S + MARGIN_S, f"the flush waited {took:.1f} s"
        assert events.pending == waiting

    # Resumed: the spool reaches the database, the cut connections were never reused.
    wait_until(lambda: (events.flush(), events.pending)[1] == 0, "the spool to be sent")
    assert not events.offline
    assert stored_event_ids(engine) == [granted.event_id, offline.event_id]
    wait_until(lambda: not stuck_backends & search_backends(engine), "the cut sessions to end")
    assert decide_one(door, face).outcome is AccessOutcome.GRANTED


@pytest.mark.slow
def test_a_decision_kept_while_the_server_is_stopped_goes_to_the_spool_in_time(
    stoppable_server: EmbeddedServer, engine: Engine, tmp_path: Path
) -> None:
    """Recording is bounded on its own: the search answered, the server stopped
    before the decision was stored (the access chain's lock, its insert, the commit)."""
    events = ResilientEventLog(engine, EventSpool(tmp_path / "spool.jsonl"), KIOSK)
    first = AccessDecision(kiosk_id=KIOSK, outcome=AccessOutcome.UNKNOWN, latency_ms=5.0)
    events.record_access(first)  # online: a pooled connection to stall on
    assert not events.offline
    decision = AccessDecision(kiosk_id=KIOSK, outcome=AccessOutcome.UNKNOWN, latency_ms=5.0)

    with stopped(stoppable_server):
        took, kept = timed(lambda: events.record_access(decision))
        assert kept is None, kept  # kept, not raised
        assert took <= DEADLINE_S + MARGIN_S, f"recording waited {took:.1f} s"
        assert events.offline
        # Offline now: the next decision goes to the spool without touching the network.
        took, kept = timed(
            lambda: events.record_access(
                AccessDecision(kiosk_id=KIOSK, outcome=AccessOutcome.NO_FACE, latency_ms=5.0)
            )
        )
        assert kept is None, kept
        assert took < 0.5

    wait_until(lambda: (events.flush(), events.pending)[1] == 0, "the spool to be sent")
    stored = stored_event_ids(engine)
    assert stored[:2] == [first.event_id, decision.event_id]
    assert len(stored) == 3


# ---- a stalled proxy: it takes the connection and never answers ------------------------


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port whose connections the kernel completes and nobody ever reads."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()


@pytest.mark.slow  # each try waits out the deadline
def test_a_server_that_takes_the_connection_and_never_answers_costs_one_deadline_per_call(
    silent_listener: int, tmp_path: Path
) -> None:
    url = f"postgresql://kiosk@127.0.0.1:{silent_listener}/kiosk?sslmode=disable"
    stalled = connect(url, query_deadline_s=DEADLINE_S)
    try:
        store = SqlIdentityStore(stalled)
        spool = EventSpool(tmp_path / "spool.jsonl")
        events = ResilientEventLog(stalled, spool, KIOSK)
        embedding = np.ones(512, dtype=np.float32) / np.sqrt(512)
        searches = [timed(lambda: store.nearest_people(embedding, "m", 5, 40)) for _ in range(3)]
        threads = threading.active_count()
        searches += [timed(lambda: store.nearest_people(embedding, "m", 5, 40)) for _ in range(2)]
        for took, result in searches:
            assert isinstance(result, StoreUnresponsive), result
            assert took <= DEADLINE_S + 0.5, f"a search waited {took:.1f} s"
        assert threading.active_count() <= threads, "a thread per call"
        # The decision that follows goes to the spool at once: the database just failed
        # to answer, the door must not wait on it a second time.
        decision = AccessDecision(kiosk_id=KIOSK, outcome=AccessOutcome.OFFLINE, latency_ms=1)
        took, kept = timed(lambda: events.record_access(decision))
        assert kept is None, kept
        assert took < 0.5, f"keeping the decision waited {took:.1f} s"
        assert events.offline
        assert decision.event_id in [line.event.event_id for line in spool.oldest(10)]
    finally:
        stalled.dispose()
