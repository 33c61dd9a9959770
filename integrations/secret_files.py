"""Secrets for the integrations (the broker's password, the webhook's signing secret),
each read from a file verified as the kiosk account's own secret (owned_files.secrets)."""

from __future__ import annotations

from pathlib import Path

from core.errors import ConfigurationError
from owned_files.folders import UnsafeEntry
from owned_files.secrets import SecretFileRefused, kiosk_account, read_secret_file

# A password or a signing secret is a line; a bigger file is not one.
_MAX_SECRET_BYTES = 4096


def read_secret(path: Path, setting: str, data_dir: Path, min_bytes: int = 1) -> str:
    """The one line of ``path``, without its line end. Raises ConfigurationError naming
    ``setting`` when the file is not the kiosk account's own secret (the account that
    owns ``data_dir``: owned_files.secrets) or shorter than ``min_bytes``."""
    try:
        secret = read_secret_file(path, kiosk_account(data_dir), _MAX_SECRET_BYTES)
    except (SecretFileRefused, UnsafeEntry) as error:
        raise ConfigurationError(f"{setting}: {error}") from None
    except OSError as error:
        raise ConfigurationError(
            f"{setting}: cannot read {path} ({error.strerror}); make it a plain file of the "
            "kiosk's account"
        ) from None
    if len(secret.encode()) < min_bytes:
        raise ConfigurationError(
            f"{setting}: the line in {path} must hold at least {min_bytes} bytes"
        )
    return secret
