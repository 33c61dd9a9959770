"""The password of an external database: from the environment or the OS keyring."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

KEYRING_SERVICE = "face-kiosk"
PASSWORD_VARIABLE = "KIOSK_DATABASE_PASSWORD"


@dataclass(frozen=True)
class DatabasePassword:
    value: str | None = field(repr=False)
    source: str
    """Where it came from, or why there is none: for messages, never the secret."""


def keyring_account(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.username}@{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


def find_database_password(url: str, from_environment: str | None) -> DatabasePassword:
    """``from_environment`` is the value of KIOSK_DATABASE_PASSWORD, read by the front end."""
    if make_url(url).password is not None:
        return DatabasePassword(None, "the password in the database URL")
    if from_environment:
        return DatabasePassword(from_environment, PASSWORD_VARIABLE)
    account = keyring_account(url)
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        stored = keyring.get_password(KEYRING_SERVICE, account)
    except NoKeyringError:
        return DatabasePassword(
            None,
            f"this machine has no OS keyring backend, so no password was read from it; "
            f"set {PASSWORD_VARIABLE}",
        )
    except KeyringError as error:
        return DatabasePassword(None, f"the OS keyring failed ({error}); set {PASSWORD_VARIABLE}")
    if stored is None:
        return DatabasePassword(
            None,
            f"no password in the OS keyring for service {KEYRING_SERVICE!r}, account "
            f"{account!r}; store one with `keyring set {KEYRING_SERVICE} {account}` "
            f"or set {PASSWORD_VARIABLE}",
        )
    return DatabasePassword(stored, "the OS keyring")
