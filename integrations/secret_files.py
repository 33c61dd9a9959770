"""Secrets for the integrations (the broker's password, the webhook's signing secret),
each read from a file only its owner may read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.errors import ConfigurationError

# A password or a signing secret is a line; a bigger file is not one.
_MAX_SECRET_BYTES = 4096


def read_secret(path: Path, setting: str, min_bytes: int = 1) -> str:
    """The first line of ``path``, without its line end. Raises ConfigurationError naming
    ``setting`` when the file is missing, not a regular file of this account, readable by
    others (group or world), empty or shorter than ``min_bytes``."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as error:
        raise ConfigurationError(
            f"{setting}: {path} does not exist; create it (mode 0600)"
        ) from error
    except OSError as error:
        raise ConfigurationError(
            f"{setting}: cannot open {path} ({error.strerror}); it must be a plain file, not a link"
        ) from error
    with os.fdopen(descriptor, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"{setting}: {path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise ConfigurationError(
                f"{setting}: {path} belongs to another account; the kiosk's own account must own it"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise ConfigurationError(
                f"{setting}: {path} is readable by others (mode "
                f"{stat.S_IMODE(info.st_mode):o}); chmod 600 {path}"
            )
        data = stream.read(_MAX_SECRET_BYTES + 1)
    if len(data) > _MAX_SECRET_BYTES:
        raise ConfigurationError(
            f"{setting}: {path} is over {_MAX_SECRET_BYTES} bytes; it holds one line"
        )
    try:
        secret = data.decode("utf-8").splitlines()[0] if data.strip() else ""
    except UnicodeDecodeError as error:
        raise ConfigurationError(f"{setting}: {path} is not UTF-8 text") from error
    if len(secret.encode()) < min_bytes:
        raise ConfigurationError(
            f"{setting}: the first line of {path} must hold at least {min_bytes} bytes"
        )
    return secret
