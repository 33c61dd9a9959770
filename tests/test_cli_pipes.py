"""kiosk-admin whose output's reader goes away (``kiosk-admin ... | head``): the command
ends quietly, exit 141 as a command ended by SIGPIPE, and never prints a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_fixtures import KIOSK_ADMIN, PASSWORD

# kiosk-admin in processes of its own, on a real server.
pytestmark = pytest.mark.slow

READER_GONE = 141


def reader_gone_early(*args: str, data_dir: Path) -> tuple[int, str]:
    """Run kiosk-admin with its stdout a pipe whose reader has already left (as ``head``
    does once it has its lines); its exit code and everything it wrote to stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env |= {"KIOSK_DATA_DIR": str(data_dir), "KIOSK_PASSWORD": PASSWORD}
    with subprocess.Popen(
        [KIOSK_ADMIN, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        errors = process.stderr.read().decode("utf-8", "replace")
        return process.wait(timeout=120), errors


@pytest.mark.parametrize(
    ("command", "exit_code"),
    [
        # argparse ignores a failed write of its own help, and exits 0 as ever.
        (("--help",), 0),
        (("rules", "--help"), 0),
        (("rules", "export", "--operator", "alice"), READER_GONE),
        (("doors", "list", "--operator", "alice", "--json"), READER_GONE),
        (("audit", "--operator", "alice"), READER_GONE),
    ],
)
def test_a_reader_that_goes_away_ends_any_command_quietly(
    admin_cli, fresh_database: str, tmp_path: Path, command: tuple[str, ...], exit_code: int
) -> None:
    code, errors = reader_gone_early("--database-url", fresh_database, *command, data_dir=tmp_path)
    assert errors == ""
    assert code == exit_code
    # With a reader, the same command prints its result.
    shown = admin_cli(*command)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip()
