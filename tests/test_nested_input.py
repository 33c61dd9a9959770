"""Deeply nested TOML and moments outside datetime's comfort are refused in one line,
never a stack trace: kiosk.toml and rules files, --at, --since and --until."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.local_config import CommandLine, load_local_config
from core.errors import ConfigurationError, RulesFileInvalid
from core.rules.rules_file import read_rules_file
from core.toml_documents import MAX_NESTING
from tests.cli_fixtures import run

DEEP_ARRAYS = "[camera]\nsource = " + "[" * 3000 + "]" * 3000 + "\n"
DEEP_TABLES = "[" + ".".join(["a"] * 3000) + "]\nx = 1\n"
JUST_TOO_DEEP = "[camera]\nsource = " + "[" * MAX_NESTING + "]" * MAX_NESTING + "\n"
TOO_DEEP = f"nested more than {MAX_NESTING} levels deep"


@pytest.mark.parametrize("text", [DEEP_ARRAYS, DEEP_TABLES, JUST_TOO_DEEP])
def test_a_deep_kiosk_toml_is_refused_in_one_line(tmp_path: Path, text: str) -> None:
    (tmp_path / "kiosk.toml").write_text(text)
    with pytest.raises(ConfigurationError) as refused:
        load_local_config(tmp_path, {}, CommandLine())
    assert (
        str(refused.value)
        == f"{tmp_path / 'kiosk.toml'} is not valid TOML: tables or arrays are {TOO_DEEP}"
    )


@pytest.mark.slow  # runs kiosk or kiosk-admin as a process of its own
def test_both_front_ends_refuse_a_deep_kiosk_toml_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "kiosk.toml").write_text(DEEP_ARRAYS)
    admin = run("config", "show", data_dir=data_dir, password=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    kiosk = subprocess.run(
        [sys.executable, "-m", "kiosk", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    for result, prefix in ((admin, "kiosk-admin"), (kiosk, "kiosk")):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"{prefix}: error: ")
        assert TOO_DEEP in lines[0]


@pytest.mark.parametrize(
    "text",
    [
        "[[group]]\nname = 'x'\nmembers = " + "[" * 3000 + "]" * 3000 + "\n",
        "[[group]]\nname = 'x'\nmembers = " + "[" * 40 + "]" * 40 + "\n",
        "[[door]]\n" + ".".join(["k"] * 3000) + " = 1\n",
    ],
)
def test_a_deep_rules_file_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(RulesFileInvalid) as refused:
        read_rules_file(text, "rules.toml")
    assert str(refused.value).startswith("rules.toml")
    assert TOO_DEEP in str(refused.value)
    assert "\n" not in str(refused.value)


def test_rules_import_of_a_deep_file_exits_2_in_one_line(admin_cli, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[[group]]\nname = 'x'\nmembers = " + "[" * 3000 + "]" * 3000 + "\n")
    result = admin_cli("rules", "import", rules, "--operator", "alice")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert TOO_DEEP in result.stderr


@pytest.mark.slow  # runs kiosk or kiosk-admin as a process of its own
@pytest.mark.parametrize(
    "args",
    [
        ("rules", "check", "--person", "0" * 32, "--door", "front", "--at", "0001-01-01T00:00"),
        (
            "rules",
            "check",
            "--person",
            "0" * 32,
            "--door",
            "front",
            "--at",
            "0001-01-01T00:00+01:00",
        ),
        (
            "rules",
            "check",
            "--person",
            "0" * 32,
            "--door",
            "front",
            "--at",
            "9999-12-31T23:59-01:00",
        ),
        ("rules", "check", "--person", "0" * 32, "--door", "front", "--at", "1969-12-31"),
        ("audit", "--since", "0001-01-01"),
        ("audit", "--until", "9999-12-31T23:59:59"),
        ("access-log", "--since", "0001-01-01T00:00+14:00"),
    ],
)
def test_a_moment_out_of_range_is_refused_before_anything_runs(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = run(*args, "--operator", "alice", data_dir=tmp_path, password=None)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "is out of range; give a moment from 1970 to 2999" in lines[0]
