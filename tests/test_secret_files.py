"""Secret files named by settings are read only when they are verifiably the kiosk's own
secret: a regular file of the kiosk's account, 0600 or 0400, small, one line."""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.settings import Settings
from integrations.setup import open_integrations
from owned_files.secrets import SecretFileRefused, kiosk_account, read_secret_file

# Every setting that names a file, and whether it holds a secret (read through
# owned_files.secrets) or a public one (a CA certificate, handed to the TLS library).
FILE_SETTINGS = {
    "mqtt.password_file": "secret",
    "mqtt.tls_ca_file": "public",
    "webhook.secret_file": "secret",
    "osdp.scbk_file": "secret",
    # A key, not a line of text: storage.sealed_stream.read_key_file makes the same
    # owner, mode and no-link checks (tests/test_sealed_files.py).
    "backup.key_file": "secret",
}


def secret(folder: Path, text: str = "broker-pw\n", mode: int = 0o600) -> Path:
    path = folder / f"secret-{uuid.uuid4().hex[:6]}"
    path.write_text(text)
    path.chmod(mode)
    return path


def mqtt_settings(password_file: Path | str) -> Settings:
    return Settings.model_validate(
        {
            "mqtt": {
                "host": "127.0.0.1",
                "username": "kiosk",
                "password_file": str(password_file),
            }
        }
    )


def not_started(
    settings: Settings, data_dir: Path, name: str, started: tuple[str, ...] = ()
) -> str:
    """Why the integration ``name`` was left out (the logged reason, without its
    prefix); the forwarder still starts and its health names the problem."""
    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("integrations.setup")
    logger.addHandler(handler)
    try:
        forwarder = open_integrations(settings, data_dir)
    finally:
        logger.removeHandler(handler)
    assert f"{name}_not_started" in forwarder.health()["problems"]
    assert tuple(destination.name for destination in forwarder.destinations) == started
    assert len(said) == 1, said
    assert "\n" not in said[0]
    return said[0].split(" not started: ", 1)[1]


def refusal(password_file: Path | str, data_dir: Path) -> str:
    message = not_started(mqtt_settings(password_file), data_dir, "mqtt")
    assert message.startswith("mqtt.password_file: ")
    return message


@pytest.fixture
def other_user() -> Iterator[pwd.struct_passwd]:
    """A second local account (the kiosk's own, run by root), made for the test."""
    if os.geteuid() != 0:
        pytest.skip("making another account needs root")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    name = f"ksec{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=True, capture_output=True)


def test_every_setting_naming_a_file_is_known_as_secret_or_public() -> None:
    named = set()
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            named |= {f"{section}.{n}" for n in model.model_fields if n.endswith("_file")}
    assert named == set(FILE_SETTINGS), "a new *_file setting: read it with read_secret_file"


@pytest.mark.skipif(os.geteuid() != 0, reason="the attack is root reading root's files")
def test_etc_shadow_is_refused_and_never_read(tmp_path: Path) -> None:
    message = refusal("/etc/shadow", tmp_path)
    assert "/etc/shadow" in message
    assert "root:" not in message


def test_a_root_owned_single_line_file_is_not_the_kiosk_accounts(
    tmp_path: Path, other_user: pwd.struct_passwd
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chown(data_dir, other_user.pw_uid, other_user.pw_gid)  # the kiosk user's folder
    roots = secret(tmp_path, "a-root-secret\n")  # root's, 0600, one line
    message = refusal(roots, data_dir)
    assert f"belongs to uid 0 (root), not to the kiosk's account uid {other_user.pw_uid}" in (
        message
    )
    assert f"chown {other_user.pw_name} {roots}" in message
    assert "a-root-secret" not in message
    os.chown(roots, other_user.pw_uid, other_user.pw_gid)
    assert read_secret_file(roots, kiosk_account(data_dir), 4096) == "a-root-secret"


@pytest.mark.parametrize(
    ("text", "mode", "problem"),
    [
        ("pw\n", 0o644, "has mode 0644; only its owner may read it: chmod 600"),
        ("pw\n", 0o640, "has mode 0640"),
        ("pw\n", 0o700, "has mode 0700"),
        ("pw\n", 0o4600, "has mode 4600"),
        ("first\nsecond\n", 0o600, "holds more than one line"),
        ("\n", 0o600, "is empty"),
        ("x" * 5000, 0o600, "is 5000 bytes; a secret file holds one line of at most 4096"),
    ],
)
def test_a_file_that_is_not_one_private_line_is_refused(
    tmp_path: Path, text: str, mode: int, problem: str
) -> None:
    assert problem in refusal(secret(tmp_path, text, mode), tmp_path)


def test_one_line_at_0600_or_0400_is_read(tmp_path: Path) -> None:
    account = kiosk_account(tmp_path)
    assert read_secret_file(secret(tmp_path, "pw\n", 0o600), account, 64) == "pw"
    assert read_secret_file(secret(tmp_path, "pw\r\n", 0o400), account, 64) == "pw"
    assert read_secret_file(secret(tmp_path, "no line end", 0o600), account, 64) == "no line end"


def test_a_link_a_fifo_a_device_and_a_folder_are_refused_without_waiting(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(secret(tmp_path))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    found: dict[str, str] = {}

    def read_all() -> None:
        for name, path in (("link", link), ("fifo", fifo), ("device", "/dev/null")):
            found[name] = refusal(path, tmp_path)
        found["folder"] = refusal(folder, tmp_path)

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "reading a secret file waited on a FIFO"
    assert "is a symbolic link; name the file itself" in found["link"]
    assert "is a FIFO, not a regular file" in found["fifo"]
    assert "is a character device, not a regular file" in found["device"]
    assert "is a folder, not a regular file" in found["folder"]


def test_a_missing_file_names_what_to_make(tmp_path: Path) -> None:
    message = refusal(tmp_path / "nothing", tmp_path)
    assert "does not exist; create it: one line, chmod 600, owned by uid" in message


def test_the_webhook_secret_is_checked_the_same_way(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "webhook": {
                "url": "http://127.0.0.1:9/x",
                "secret_file": str(secret(tmp_path, "k" * 32 + "\nmore\n")),
            }
        }
    )
    message = not_started(settings, tmp_path, "webhook")
    assert re.match(r"^webhook.secret_file: .* more than one line", message)


def test_a_refused_secret_leaves_out_only_its_own_integration(tmp_path: Path) -> None:
    password = secret(tmp_path, "broker-pw\n")
    settings = Settings.model_validate(
        {
            "mqtt": {"host": "127.0.0.1", "username": "kiosk", "password_file": str(password)},
            "webhook": {
                "url": "http://127.0.0.1:9/x",
                "secret_file": str(secret(tmp_path, "k" * 32 + "\n", mode=0o644)),
            },
        }
    )
    message = not_started(settings, tmp_path / "data", "webhook", started=("mqtt",))
    assert "chmod 600" in message


def test_a_refusal_is_an_os_error_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(SecretFileRefused) as refused:
        read_secret_file(secret(tmp_path, mode=0o644), kiosk_account(tmp_path), 64)
    assert isinstance(refused.value, OSError)
    assert "\n" not in str(refused.value)
