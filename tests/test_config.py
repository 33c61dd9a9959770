"""The local configuration: kiosk.toml, KIOSK_* variables over it, options over both."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from config.environment import load_configuration
from config.local_config import (
    CONFIG_FILE,
    CommandLine,
    load_local_config,
    machine_kiosk_id,
    redacted,
)
from core.errors import ConfigurationError


def write(folder: Path, text: str) -> Path:
    path = folder / CONFIG_FILE
    path.write_text(text, encoding="utf-8")
    return path


def test_variables_win_over_the_file_and_options_over_both(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[kiosk]\nid = "door-1"\nname = "Main entrance"\n'
        "[matching]\nthreshold = 0.45\nmargin = 0.08\n"
        '[models]\nproviders = ["CPUExecutionProvider"]\nintra_op_threads = 1\n'
        '[database]\nurl = "postgresql://kiosk@db.example/kiosk"\n',
    )
    environ = {
        "KIOSK_MATCHING__THRESHOLD": "0.5",
        "KIOSK_QUALITY__PITCH_RANGE": "0.2, 0.9",
        "KIOSK_KIOSK__NAME": "Front entrance",
    }
    config = load_local_config(
        tmp_path, environ, CommandLine(database_url="postgresql://kiosk@other/kiosk")
    )
    settings = config.settings
    assert settings.kiosk_id == "door-1"
    assert settings.kiosk_name == "Front entrance"
    assert settings.matching.threshold == 0.5
    assert settings.matching.margin == 0.08
    assert settings.models.intra_op_threads == 1
    assert settings.quality.pitch_range == (0.2, 0.9)
    assert config.database_url == "postgresql://kiosk@other/kiosk"
    assert config.sources["matching.threshold"] == "KIOSK_MATCHING__THRESHOLD"
    assert config.sources["matching.margin"] == CONFIG_FILE
    assert config.sources["database.url"] == "--database-url"


def test_no_file_gives_the_defaults_and_the_machines_id(tmp_path: Path) -> None:
    location, config = load_configuration(None, CommandLine(), {"KIOSK_DATA_DIR": str(tmp_path)})
    assert location.data_dir == tmp_path
    assert location.database_url is None
    assert config.file is None
    # The README's kiosk-<hostname>, for the kiosk and kiosk-admin alike.
    assert config.settings.kiosk_id == machine_kiosk_id()
    assert machine_kiosk_id().startswith("kiosk-")
    host = socket.gethostname()
    if re.fullmatch(r"[A-Za-z0-9._-]{1,58}", host):
        assert machine_kiosk_id() == f"kiosk-{host}"
    assert config.settings.matching.threshold == 0.40


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("[matching]\ntreshold = 0.4\n", {}, "unknown setting matching.treshold in"),
        ("[matchng]\nthreshold = 0.4\n", {}, "unknown section [matchng]"),
        ("[kiosk]\nlocation = 'hall'\n", {}, "unknown setting kiosk.location"),
        ("[database]\npassword = 'x'\n", {}, "KIOSK_DATABASE_PASSWORD or the OS keyring"),
        ("threshold = 0.4\n", {}, "must be inside a section"),
        ("[database]\nurl = 5432\n", {}, "database.url = 5432 (from kiosk.toml) is not allowed"),
        ("[matching\n", {}, "is not valid TOML"),
        (
            "[matching]\nthreshold = 1.5\n",
            {},
            "matching.threshold = 1.5 (from kiosk.toml) is not allowed: "
            "a number at least 0.3 and at most 1",
        ),
        (
            "",
            {"KIOSK_MODELS__INTRA_OP_THREADS": "99"},
            "models.intra_op_threads = '99' (from KIOSK_MODELS__INTRA_OP_THREADS) is not "
            "allowed: a whole number at least 0 and at most 64",
        ),
        ("", {"KIOSK_DOOR__FRAMES": "3"}, "unknown setting door.frames in KIOSK_DOOR__FRAMES"),
        ("", {"KIOSK_MATCHING_THRESHOLD": "0.4"}, "e.g. KIOSK_MATCHING__THRESHOLD"),
        ("[telemetry]\nlog_level = 'loud'\n", {}, "one of 'debug', 'info', 'warning', 'error'"),
        ("", {"KIOSK_LIVENESS__MODE": "wink"}, "one of 'off', 'blink', 'turn', 'both'"),
        ("[kiosk]\nid = 'door 1!'\n", {}, "kiosk.id = 'door 1!' (from kiosk.toml)"),
        (
            "[matching]\nef_search = 30\n",
            {},
            "settings in [matching] do not fit together (matching.ef_search from kiosk.toml): "
            "quick_ef_search (50) must not exceed ef_search (30)",
        ),
        (
            "",
            {"KIOSK_QUALITY__PITCH_RANGE": "0.9, 0.2"},
            "settings in [quality] do not fit together (quality.pitch_range from "
            "KIOSK_QUALITY__PITCH_RANGE): pitch_range must be (low, high) with low < high",
        ),
    ],
)
def test_a_bad_value_names_its_key_where_it_was_set_and_what_is_allowed(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigurationError) as raised:
        load_local_config(tmp_path, environ, CommandLine())
    assert message in str(raised.value)


def test_a_model_folder_may_start_at_home(tmp_path: Path) -> None:
    environ = {"KIOSK_MODELS__PACK_DIR": "~/packs/buffalo_l"}
    settings = load_local_config(tmp_path, environ, CommandLine()).settings
    assert settings.models.pack_dir == Path.home() / "packs" / "buffalo_l"


def test_variables_that_are_not_settings_are_left_alone(tmp_path: Path) -> None:
    environ = {
        "KIOSK_PASSWORD": "x",
        "KIOSK_DATABASE_PASSWORD": "y",
        "KIOSK_CAMERA": "0",
        "KIOSK_SOMETHING_ELSE": "1",
    }
    assert load_local_config(tmp_path, environ, CommandLine()).settings.kiosk_id == (
        machine_kiosk_id()
    )


def test_the_shown_configuration_hides_the_database_password(tmp_path: Path) -> None:
    write(tmp_path, '[database]\nurl = "postgresql://kiosk:s3cret-pw@db.example:5432/kiosk"\n')
    shown = redacted(load_local_config(tmp_path, {}, CommandLine()))
    assert shown["database.url"] == ("postgresql://kiosk:***@db.example:5432/kiosk", CONFIG_FILE)
    assert "s3cret-pw" not in repr(shown)
    assert shown["matching.threshold"] == (0.40, "default")
