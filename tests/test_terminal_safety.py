"""Names, file names and configuration values never act on the terminal or the log
reader: control and format characters arrive as escapes (telemetry.safe_text)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from admin.output import Report, emit, emit_error, progress
from telemetry.json_log import ConsoleFormatter, JsonFormatter
from telemetry.safe_text import for_json, for_terminal, is_unsafe
from tests.cli_fixtures import run

# Erase the line, go back to its start, and write a match where the refusal was.
ERASE_AND_LIE = "\x1b[2K\rmatch: Yao Ming\x1b[8m"
HOSTILE = [
    ERASE_AND_LIE,
    "\x9b31m",  # CSI as one C1 character
    "\x07\x08\x7f",  # bell, backspace, DEL
    "North\u202eentrance",  # right-to-left override
    "line\u2028separator",
    "zero\u200bwidth\ufeff",
    "undecodable \udcff byte",  # how Python holds a file name's bad byte
    "\U000e0041tag",
]
HARMLESS = [
    "Zoë Ødegård",
    "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627",
    "👩\u200d👩\u200d👧",
    "Ngô Bảo Châu",
    "a\tb",
]


def shows_nothing_unsafe(text: str) -> bool:
    return not any(is_unsafe(character) for character in text if character not in "\n\t")


@pytest.mark.parametrize("text", HOSTILE)
def test_every_control_and_format_character_is_written_as_an_escape(text: str) -> None:
    shown = for_terminal(text)
    assert shows_nothing_unsafe(shown)
    assert shown != text
    encoded = for_json(json.dumps({"name": text}, ensure_ascii=False))
    assert shows_nothing_unsafe(encoded)
    assert json.loads(encoded) == {"name": text}  # the same JSON value, only escaped


@pytest.mark.parametrize("text", HARMLESS)
def test_letters_of_every_script_pass_unchanged(text: str) -> None:
    assert for_terminal(text) == text
    assert for_json(json.dumps(text, ensure_ascii=False)) == json.dumps(text, ensure_ascii=False)


def test_a_report_keeps_its_lines_and_an_error_stays_one_line() -> None:
    assert for_terminal("one\ntwo") == "one\ntwo"
    assert for_terminal("one\ntwo", one_line=True) == "one\\ntwo"


def test_everything_kiosk_admin_prints_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    emit(Report({"name": ERASE_AND_LIE}, f"person: {ERASE_AND_LIE}\nnext line"), as_json=False)
    emit(Report({"name": ERASE_AND_LIE}, ""), as_json=True)
    emit_error(f"{ERASE_AND_LIE}.jpg does not exist", 3, as_json=False)
    emit_error(f"{ERASE_AND_LIE}.jpg does not exist", 3, as_json=True)
    progress(f"{ERASE_AND_LIE}: 1/2 images")
    out, err = capsys.readouterr()
    assert shows_nothing_unsafe(out)
    assert shows_nothing_unsafe(err)
    text_line, json_line = out.splitlines()[0], out.splitlines()[2]
    assert text_line.startswith("person: \\x1b[2K\\rmatch")
    assert json.loads(json_line) == {"name": ERASE_AND_LIE}
    error_line, json_error, progress_line = err.splitlines()
    assert error_line.startswith("kiosk-admin: error: \\x1b[2K")
    # An error is one line: its whitespace, the carriage return too, becomes spaces.
    assert json.loads(json_error)["error"].startswith("\x1b[2K match: Yao Ming\x1b[8m.jpg")
    assert progress_line.endswith(": 1/2 images")


@pytest.mark.slow
def test_a_file_name_cannot_erase_the_error_prefix_of_a_real_refusal(tmp_path: Path) -> None:
    hostile = tmp_path / f"{ERASE_AND_LIE}.jpg"
    assert run("init", "--admin", "alice", data_dir=tmp_path).returncode == 0
    refused = run("identify", "--operator", "alice", "--image", hostile, data_dir=tmp_path)
    assert refused.returncode == 3
    assert refused.stderr.startswith("kiosk-admin: error: ")
    assert "\x1b" not in refused.stderr
    assert "\r" not in refused.stderr
    assert "/\\x1b[2K match: Yao Ming\\x1b[8m.jpg does not exist" in refused.stderr
    assert refused.stdout == ""


@pytest.mark.slow  # a real process of its own
def test_a_kiosk_name_in_the_configuration_reaches_the_terminal_escaped(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text(
        '[kiosk]\nname = "\\u001b]0;owned\\u0007North\\u202e entrance"\n', encoding="utf-8"
    )
    shown = run("config", "show", password=None, data_dir=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shows_nothing_unsafe(shown.stdout)
    assert "\\x1b]0;owned\\x07North\\u202e entrance" in shown.stdout
    as_json = run("config", "show", "--json", password=None, data_dir=tmp_path)
    assert shows_nothing_unsafe(as_json.stdout)
    name = json.loads(as_json.stdout)["values"]["kiosk.name"]
    assert name == "\x1b]0;owned\x07North\u202e entrance"  # the value itself, unchanged


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("kiosk.door", logging.WARNING, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


def test_log_lines_escape_names_in_the_message_its_arguments_and_extra_fields() -> None:
    entry = record("granted %s", ERASE_AND_LIE, kiosk_name="North\u202e")
    line = JsonFormatter().format(entry)
    assert shows_nothing_unsafe(line)
    parsed = json.loads(line)
    assert parsed["message"] == f"granted {ERASE_AND_LIE}"
    assert parsed["kiosk_name"] == "North\u202e"
    console = ConsoleFormatter("%(levelname)s %(name)s: %(message)s").format(entry)
    assert console == "WARNING kiosk.door: granted \\x1b[2K\\rmatch: Yao Ming\\x1b[8m"
