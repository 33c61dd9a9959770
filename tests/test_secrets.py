"""The external database password: environment or OS keyring, never printed."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from storage.secrets import KEYRING_SERVICE, find_database_password, keyring_account

URL = "postgresql://kiosk@db.example:5433/doors"


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.stored: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.stored.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.stored[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.stored.pop((service, username), None)


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


def test_a_password_in_the_url_is_used_as_it_is() -> None:
    found = find_database_password("postgresql://kiosk:s3cret@db/doors", "ignored")
    assert found.value is None
    assert "URL" in found.source


def test_the_environment_variable_comes_first() -> None:
    found = find_database_password(URL, "from-env")
    assert found.value == "from-env"
    assert found.source == "KIOSK_DATABASE_PASSWORD"
    assert "from-env" not in repr(found)


@pytest.mark.usefixtures("restore_keyring")
def test_no_keyring_backend_is_said_plainly() -> None:
    keyring.set_keyring(fail.Keyring())
    found = find_database_password(URL, None)
    assert found.value is None
    assert "no OS keyring backend" in found.source
    assert "KIOSK_DATABASE_PASSWORD" in found.source


@pytest.mark.usefixtures("restore_keyring")
def test_the_os_keyring_is_read_under_the_documented_names() -> None:
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    assert find_database_password(URL, None).value is None
    assert (
        "keyring set face-kiosk kiosk@db.example:5433/doors"
        in find_database_password(URL, None).source
    )
    memory.set_password(KEYRING_SERVICE, keyring_account(URL), "from-keyring")
    found = find_database_password(URL, None)
    assert found.value == "from-keyring"
    assert found.source == "the OS keyring"
