"""Running kiosk-admin as a person does: a subprocess, passwords from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KIOSK_ADMIN = str(Path(sys.executable).with_name("kiosk-admin"))
PASSWORD = "tall-ladder-orange-77"


def run(
    *args: str | Path, password: str | None = PASSWORD, data_dir: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env["KIOSK_DATA_DIR"] = str(data_dir)
    if password is not None:
        env["KIOSK_PASSWORD"] = password
    return subprocess.run(
        [KIOSK_ADMIN, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


@pytest.fixture
def admin_cli(fresh_database: str, tmp_path: Path):
    """Run kiosk-admin against a fresh database that has an admin called alice."""

    def cli(*args: str | Path, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
        return run("--database-url", fresh_database, *args, password=password, data_dir=tmp_path)

    created = cli("init", "--admin", "alice")
    assert created.returncode == 0, created.stderr
    return cli


def identify(cli, image: str | Path, *more: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """kiosk-admin identify as alice, whom ``admin_cli`` creates."""
    return cli("identify", "--operator", "alice", "--image", image, *more)


def as_json(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
