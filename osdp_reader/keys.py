"""The secure channel base key (SCBK) the controller and this reader share.

From a file only this account may read (``osdp.scbk_file``), or from the OS keyring;
never from kiosk.toml, which operators read and copy. The file holds the 16-byte key
as 32 hex digits. A controller may send a new key over the secure channel
(osdp_KEYSET): it is written back to where the key came from before the controller
is told yes, so the two still agree after a restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ReaderKeyError
from core.osdp_settings import OsdpSettings
from owned_files.secrets import SecretFileRefused, read_secret_file

log = logging.getLogger(__name__)

KEY_BYTES = 16
KEYRING_SERVICE = "face-kiosk"
# A key file is 32 hex digits and a line end; more is not a key file.
_MOST_BYTES = 256
# OSDP's default install-mode key (SCBK-D, 0x30..0x3F): published, so no secret.
DEFAULT_INSTALL_KEY = bytes(range(0x30, 0x40))
_DOCS = "docs/osdp.md, Keys"


@dataclass(frozen=True)
class ReaderKey:
    key: bytes = field(repr=False)
    source: str
    """Where it came from, for messages: the file's path or the keyring entry."""
    replace: Callable[[bytes], None] = field(repr=False, compare=False)
    """Keeps a new key where this one came from; raises OSError or a keyring error."""


def keyring_account(kiosk_id: str) -> str:
    return f"osdp-scbk:{kiosk_id}"


def load_reader_key(osdp: OsdpSettings, kiosk_id: str, account: int | None = None) -> ReaderKey:
    """The SCBK from ``osdp.scbk_file``, else the keyring. ``account``: the uid that
    must own the file (owned_files.secrets.kiosk_account; default this process's).
    Raises ReaderKeyError naming the problem and the fix in one line (never the key)."""
    if osdp.scbk_file is not None:
        path = osdp.scbk_file
        owner = os.geteuid() if account is None else account
        return ReaderKey(
            _read_key_file(path, owner), str(path), lambda key: write_key_file(path, key, owner)
        )
    return _keyring_key(kiosk_id)


def parse_key(text: str, where: str) -> bytes:
    """32 hex digits, white space around them allowed. Raises ReaderKeyError."""
    digits = text.strip()
    try:
        key = bytes.fromhex(digits)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES or len(digits) != 2 * KEY_BYTES:
        raise ReaderKeyError(
            f"{where} does not hold an OSDP key (32 hex digits); put the controller's "
            f"16-byte SCBK there as hex ({_DOCS})"
        )
    if key == DEFAULT_INSTALL_KEY:
        raise ReaderKeyError(
            f"{where} holds OSDP's published install key (SCBK-D), which is no secret; "
            f"make a key of the site's own and set it on the controller too ({_DOCS})"
        )
    return key


def _read_key_file(path: Path, account: int) -> bytes:
    try:
        text = read_secret_file(path, account, _MOST_BYTES)
    except SecretFileRefused as error:
        raise ReaderKeyError(f"osdp.scbk_file {error} ({_DOCS})") from None
    return parse_key(text, f"osdp.scbk_file {path}")


def write_key_file(path: Path, key: bytes, account: int | None = None) -> None:
    """Replace the key in ``path`` at once (a new owner-only file renamed over it), so
    a crash leaves the old key or the new one, never half of either; run as root, the
    file is given to ``account``, whose it must be to be read again. Raises OSError."""
    folder = path.parent
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)  # mode 0600
    try:
        if account is not None and os.geteuid() == 0 and account != 0:
            os.fchown(descriptor, account, -1)
        with os.fdopen(descriptor, "w", encoding="ascii") as stream:
            stream.write(key.hex() + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    folder_descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(folder_descriptor)
    finally:
        os.close(folder_descriptor)


def _keyring_key(kiosk_id: str) -> ReaderKey:
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    account = keyring_account(kiosk_id)
    where = f"the OS keyring (service {KEYRING_SERVICE!r}, account {account!r})"
    set_it = f"store the key with `keyring set {KEYRING_SERVICE} {account}` or set osdp.scbk_file"
    try:
        stored = keyring.get_password(KEYRING_SERVICE, account)
    except NoKeyringError as error:
        raise ReaderKeyError(
            "osdp.scbk_file is not set and this machine has no OS keyring; set "
            f"osdp.scbk_file to a key file ({_DOCS})"
        ) from error
    except KeyringError as error:
        raise ReaderKeyError(f"reading {where} failed ({error}); {set_it}") from error
    if stored is None:
        raise ReaderKeyError(f"no OSDP key in {where}; {set_it}")

    def replace(key: bytes) -> None:
        keyring.set_password(KEYRING_SERVICE, account, key.hex())

    return ReaderKey(parse_key(stored, where), where, replace)
