"""A kiosk brings its embedded server back after kill -9, audits the outage, reports it."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
from prometheus_client import generate_latest
from pytestqt.qtbot import QtBot

from config.environment import Location
from core.settings import EmbeddedServerSettings, Settings
from kiosk.app import KioskWindow
from storage.server_supervisor import ServerSupervisor
from storage.store import OpenStore, open_store
from telemetry.metrics import KioskMetrics
from tests.cli_fixtures import as_json, run

# Each test starts and kills a real PostgreSQL server.
pytestmark = pytest.mark.slow

SETTLE_S = 60.0  # the longest the server may take to come back here
FAST = EmbeddedServerSettings(check_interval_s=0.1, restart_delay_s=0.2, restart_delay_max_s=1.0)


@pytest.fixture
def folder() -> Iterator[Path]:
    """A temporary folder outside pytest's: every pytest run on the machine closes
    /tmp/pytest-of-<user> to the owner at its start, which would shut the server's
    own user out of a data folder under it while a test runs."""
    made = Path(tempfile.mkdtemp(prefix="kiosk-test-"))
    yield made
    shutil.rmtree(made)


@pytest.fixture
def store(folder: Path) -> Iterator[OpenStore]:
    with open_store(folder / "kiosk-data", None, None, FAST) as opened:
        yield opened


# Long before any test: every restart audited so far.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + SETTLE_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {SETTLE_S} s"
        time.sleep(0.05)


def kill_postmaster(store: OpenStore) -> int:
    assert store.server is not None
    pid = store.server.postmaster_pid()
    assert pid is not None
    psutil.Process(pid).kill()
    return pid


def test_a_killed_server_comes_back_and_the_outage_is_audited_and_counted(
    store: OpenStore,
) -> None:
    assert store.server is not None
    supervisor = ServerSupervisor(store.server, store.engine, "door-1", FAST)
    metrics = KioskMetrics()
    metrics.watch_database_server(supervisor.status)
    with supervisor:
        killed = kill_postmaster(store)
        wait_for(lambda: supervisor.status().outages == 1, "the server to come back")
        assert store.server.postmaster_pid() not in (None, killed)
        assert store.identity.count_people() == 0  # the store answers again

        wait_for(
            lambda: bool(store.audit.server_restarts(EPOCH, 10)),
            "the outage to be audited",
        )
    [event] = store.audit.server_restarts(EPOCH, 10)
    assert event.target == "door-1"
    assert event.actor == "system"
    assert 0 < event.details["down_s"] < SETTLE_S
    assert event.details["restart_attempts"] >= 1
    status = supervisor.status()
    assert status.up
    assert status.restarts >= 1
    assert status.last_outage is not None
    assert event.details["down_s"] == round(status.last_outage.down_s, 1)

    scraped = generate_latest(metrics.registry).decode()
    assert "kiosk_database_server_up 1.0" in scraped
    assert "kiosk_database_server_outages_total 1.0" in scraped
    assert f"kiosk_database_server_restarts_total {float(status.restarts)}" in scraped
    assert "kiosk_database_server_down_seconds 0.0" in scraped


def test_a_stopped_supervisor_restarts_nothing(store: OpenStore) -> None:
    """Closing the kiosk stops the supervisor first, so the server it stops stays down."""
    server = store.server
    assert server is not None
    supervisor = ServerSupervisor(server, store.engine, "door-1", FAST)
    with supervisor:
        supervisor.check()
    kill_postmaster(store)
    wait_for(lambda: not server.is_running(), "the server to be gone")
    assert supervisor.status().outages == 0
    assert not server.is_running()


@pytest.mark.slow
def test_health_reports_the_embedded_server_and_its_outages(folder: Path, store: OpenStore) -> None:
    assert store.server is not None
    with ServerSupervisor(store.server, store.engine, "door-1", FAST) as supervisor:
        kill_postmaster(store)
        wait_for(lambda: supervisor.status().outages == 1, "the server to come back")
        wait_for(
            lambda: bool(store.audit.server_restarts(EPOCH, 10)),
            "the outage to be audited",
        )
        report = as_json(run("--json", "health", "--no-camera", data_dir=folder / "kiosk-data"))
    server = report["database"]["server"]
    assert server["pid"] == store.server.postmaster_pid()
    assert server["socket_private"] is True
    assert server["password_required"] is True
    assert server["outages_24h"] == 1
    assert server["last_outage"]["restart_attempts"] >= 1


@pytest.mark.slow
def test_the_kiosk_supervises_the_embedded_server_it_started(
    qtbot: QtBot, folder: Path, photos: Path
) -> None:
    from tests.conftest import dispose_windows

    data_dir = folder / "kiosk-data"
    settings = Settings(embedded_server=FAST)
    window = KioskWindow(settings, Location(data_dir, None), str(photos), 10.0)
    qtbot.addWidget(window)
    controller = window.controller
    controller.start()
    try:
        qtbot.waitUntil(lambda: controller.services is not None, timeout=int(SETTLE_S * 1000))
        services = controller.services
        assert services is not None
        supervisor = services.database_server
        assert supervisor is not None
        kill_postmaster(services.store)
        wait_for(lambda: supervisor.status().outages == 1, "the restart")
        assert services.store.identity.count_people() == 0
        scraped = generate_latest(controller.metrics.registry).decode()
        assert "kiosk_database_server_outages_total 1.0" in scraped
    finally:
        dispose_windows([window])
    assert "database-supervisor" not in [thread.name for thread in threading.enumerate()]
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "stopped with the kiosk"
