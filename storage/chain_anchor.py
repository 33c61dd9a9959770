"""The anchor: each hash chain's head, signed and kept outside the database.

A database superuser can rewrite the audit and access tables and recompute
every hash; they cannot change a file they cannot reach. Each transaction that
appends writes, before it commits and while it holds the chains' lock
(storage/event_chains.py), each chain's head as it found it (``committed``) and
the head it is about to commit (``pending``, with its PostgreSQL transaction id, so
that the database's commit log tells whether it committed) to
``DATA_DIR/audit/anchor.json``,
signed with HMAC-SHA256 under a random key in ``DATA_DIR/audit/anchor.key``. The
log's newest event is therefore always one of those two heads, crash or not,
unless something appended without this anchor: where this data folder's
processes are the only writers (the embedded database, ``sole_writer``) such an
event is reported as added behind their back. The folder and both files are
owner-only: run as root, the embedded server runs as its own system user and can
neither read nor write them; a central server never reaches them at all.

The file is replaced whole (temporary file, fsync, rename; the rename fsynced too
for a sole writer, so that a power cut never leaves a committed event unanchored),
under a lock on ``anchor.lock`` that every process using the data folder takes,
and only from the state the appending transaction checked against the log. A log
cut short or rewritten is never anchored over; it stays visible to
``kiosk-admin audit verify`` until an admin re-anchors it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from core.errors import StoreBusy
from core.log_records import AnchoredChain, AnchorReading, AnchorStatus, ChainHead
from owned_files.entries import Owner, replace_in, secure_folder
from owned_files.folders import UnsafeEntry, owned_folder
from storage.anchor_document import (
    FORMAT,
    AnchorUntrusted,
    chains_of,
    entry_of,
    mac,
    new_document,
)
from storage.secrets import keyring_account

log = logging.getLogger(__name__)

ANCHOR_FOLDER = "audit"
EMBEDDED_DATABASE = "embedded"
_KEY = "anchor.key"
_ANCHOR = "anchor.json"
_LOCK = "anchor.lock"
_KEY_BYTES = 32
_MAX_ANCHOR_BYTES = 1_000_000
_LOCK_POLL_S = 0.005
"""How often a process waiting for the lock tries again; flock has no timed wait."""


class Unanchored(Enum):
    NOTHING = "nothing anchored for this chain yet: the log as it is may be anchored"
    SKIP = "the anchor cannot be trusted or the log diverged from it: do not move it"


AnchorState = AnchoredChain | Unanchored
"""What an appending transaction found anchored for its chain."""


def anchor_database(database_url: str | None) -> str:
    """The name a database is anchored under: its user, host, port and name."""
    return EMBEDDED_DATABASE if database_url is None else keyring_account(database_url)


class ChainAnchor:
    """The anchor file of one data folder, for one database.

    Exists so that the chain heads live where the database cannot rewrite them.
    Safe across threads and processes: every change takes an exclusive ``flock``
    on ``anchor.lock`` (waiting at most ``lock_timeout_s``); a reader without the
    lock sees the old file or the new one, never half of one.
    """

    def __init__(
        self, folder: Path, database: str, lock_timeout_s: float, *, sole_writer: bool = False
    ) -> None:
        """``sole_writer``: only processes using this folder append to ``database``."""
        self._folder = folder
        self._database = database
        self._lock_timeout_s = lock_timeout_s
        self.sole_writer = sole_writer
        self._cache: tuple[tuple[int, int, int], dict[str, AnchoredChain]] | None = None
        self._cache_lock = threading.Lock()
        self._reported: set[str] = set()
        self._made = False
        """The folder was made or checked by secure_folder once; each use still checks
        its owner on the descriptor."""

    @property
    def where(self) -> str:
        return str(self._folder / _ANCHOR)

    def state(self, chain: str) -> AnchorState:
        """For an appending transaction: what is anchored for ``chain``. No lock:
        parsed once per version of the file."""
        try:
            with self._opened() as (folder, owner), self._cache_lock:
                return self._chains_unlocked(folder, owner).get(chain, Unanchored.NOTHING)
        except (AnchorUntrusted, OSError):
            pass  # perhaps another process is between writing the key and the anchor
        try:
            with self._locked() as (folder, owner), self._cache_lock:
                return self._chains_unlocked(folder, owner).get(chain, Unanchored.NOTHING)
        except (AnchorUntrusted, OSError, StoreBusy) as error:
            self.report_once(f"the audit anchor is not advanced: {error}")
            return Unanchored.SKIP

    def read(self) -> AnchorReading:
        """For verification: the chains anchored for this database, signature checked."""
        try:
            with self._locked() as (folder, owner):
                document = self._load(folder, owner)
            chains = chains_of((document or {}).get("databases", {}).get(self._database, {}))
        except (AnchorUntrusted, OSError, StoreBusy) as error:
            return AnchorReading(
                AnchorStatus.UNTRUSTED, {}, self.where, str(error), sole_writer=self.sole_writer
            )
        if not chains:
            return AnchorReading(
                AnchorStatus.NONE,
                {},
                f"nothing is anchored yet in {self.where} for this database",
                sole_writer=self.sole_writer,
            )
        return AnchorReading(
            AnchorStatus.ANCHORED, chains, self.where, sole_writer=self.sole_writer
        )

    def write_ahead(
        self,
        chain: str,
        checked: AnchorState,
        committed: ChainHead,
        pending: ChainHead,
        xact: int,
    ) -> None:
        """Before a commit, with the chains' lock held: anchor ``committed`` (the head
        the transaction found, known to be in the log) and ``pending`` (the head it is
        committing, in transaction ``xact``), if the anchor is still ``checked``.
        Raises StoreBusy, AnchorUntrusted or OSError."""
        if checked is Unanchored.SKIP:
            return
        ordered_from = checked.ordered_from if isinstance(checked, AnchoredChain) else 0
        with self._locked() as (folder, owner):
            document = self._load(folder, owner) or new_document()
            entry = document["databases"].setdefault(self._database, {})
            if chains_of(entry).get(chain, Unanchored.NOTHING) != checked:
                # Changed meanwhile (an admin's re-anchoring): the next append checks it.
                return
            entry[chain] = entry_of(AnchoredChain(committed, pending, xact, ordered_from))
            self._save(folder, owner, document)

    def replace(self, heads: dict[str, ChainHead]) -> str:
        """Anchor ``heads`` whatever is anchored now (an admin's re-anchoring); events
        up to them are taken as looked into, so time order is checked after them. The
        old file is kept aside; returns where, or that there was none."""
        with self._locked() as (folder, owner):
            try:
                document = self._load(folder, owner)
            except AnchorUntrusted as error:
                log.warning("re-anchoring over an anchor that cannot be trusted: %s", error)
                document = None
            kept = "no anchor was in place"
            if _exists(folder, _ANCHOR):
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                aside = f"anchor.replaced-{stamp}.json"
                os.replace(_ANCHOR, aside, src_dir_fd=folder, dst_dir_fd=folder)
                kept = f"the old anchor was kept as {self._folder / aside}"
            if document is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(_KEY, dir_fd=folder)
                document = new_document()
            document["databases"][self._database] = {
                chain: entry_of(AnchoredChain(head, None, None, head.count))
                for chain, head in heads.items()
            }
            self._save(folder, owner, document)
        return kept

    def report_once(self, message: str) -> None:
        """Log a problem at error level once per process: appends repeat it at every door."""
        if message not in self._reported:
            self._reported.add(message)
            log.error("%s; run kiosk-admin audit verify", message)

    # --- files ---------------------------------------------------------------------------
    # Every file is opened, made, renamed or removed relative to the folder's descriptor,
    # checked once (_opened): a kiosk user owning the data folder may rename the anchor's
    # folder and put a link in its place, and root must then write nothing elsewhere.

    def _chains_unlocked(self, folder: int, owner: Owner) -> dict[str, AnchoredChain]:
        try:
            info = os.stat(_ANCHOR, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            if _exists(folder, _KEY):
                raise AnchorUntrusted(
                    f"{self._folder / _ANCHOR} is missing although its key exists"
                ) from None
            return {}
        version = (info.st_ino, info.st_mtime_ns, info.st_size)
        if self._cache is None or self._cache[0] != version:
            document = self._load(folder, owner)
            entry = (document or {}).get("databases", {}).get(self._database, {})
            self._cache = (version, chains_of(entry))
        return self._cache[1]

    def _load(self, folder: int, owner: Owner) -> dict[str, Any] | None:
        """The verified document; None when neither the key nor the anchor exists."""
        key_path, anchor_path = self._folder / _KEY, self._folder / _ANCHOR
        has_key, has_anchor = _exists(folder, _KEY), _exists(folder, _ANCHOR)
        if not has_key and not has_anchor:
            return None
        if not has_anchor:
            raise AnchorUntrusted(f"{anchor_path} is missing although its key {key_path} exists")
        if not has_key:
            raise AnchorUntrusted(
                f"the key {key_path} is missing, so {anchor_path} cannot be checked"
            )
        key = _read_owned(folder, key_path, _KEY_BYTES, owner)
        if len(key) != _KEY_BYTES:
            raise AnchorUntrusted(f"the key {key_path} is not {_KEY_BYTES} bytes long")
        try:
            document = json.loads(_read_owned(folder, anchor_path, _MAX_ANCHOR_BYTES, owner))
            signature = document.pop("mac")
        except (ValueError, KeyError, AttributeError, TypeError, RecursionError) as error:
            raise AnchorUntrusted(f"{anchor_path} is not an anchor file ({error})") from error
        if not isinstance(signature, str) or not hmac.compare_digest(signature, mac(key, document)):
            raise AnchorUntrusted(
                f"{anchor_path} fails its signature: it was changed by something without the key"
            )
        if document.get("format") != FORMAT or not isinstance(document.get("databases"), dict):
            raise AnchorUntrusted(f"{anchor_path} has a format this version does not know")
        return document

    def _save(self, folder: int, owner: Owner, document: dict[str, Any]) -> None:
        if not _exists(folder, _KEY):
            _write_atomically(
                folder, _KEY, secrets.token_bytes(_KEY_BYTES), owner, durable_rename=True
            )
        key = _read_owned(folder, self._folder / _KEY, _KEY_BYTES, owner)
        signed = {**document, "mac": mac(key, document)}
        _write_atomically(
            folder,
            _ANCHOR,
            json.dumps(signed, indent=1).encode(),
            owner,
            # A sole writer's anchor must survive a power cut with the commit it precedes.
            durable_rename=self.sole_writer,
        )
        with self._cache_lock:
            self._cache = None

    @contextlib.contextmanager
    def _opened(self) -> Iterator[tuple[int, Owner]]:
        """The anchor's folder, made if missing, and whom its files belong to: a
        descriptor on a real folder (reached without following a link), 0700, of this
        account or, run as root, of the data folder's owner (the kiosk's account)."""
        try:
            if not self._made:
                # Made and checked through descriptors; another account's folder is refused.
                secure_folder(self._folder, mode=0o700)
                self._made = True
            with owned_folder(self._folder) as folder:
                info = os.fstat(folder)
                if info.st_uid != os.geteuid() and not (
                    os.geteuid() == 0 and info.st_uid == self._data_folder_owner()
                ):
                    raise AnchorUntrusted(f"{self._folder} is not a folder owned by this user")
                if stat.S_IMODE(info.st_mode) & 0o077:
                    os.fchmod(folder, 0o700)
                yield folder, (info.st_uid, info.st_gid)
        except FileNotFoundError:
            self._made = False  # removed since: made again by the next use
            raise
        except UnsafeEntry as error:
            raise AnchorUntrusted(str(error)) from error

    def _data_folder_owner(self) -> int:
        return os.stat(self._folder.parent, follow_symlinks=False).st_uid

    @contextlib.contextmanager
    def _locked(self) -> Iterator[tuple[int, Owner]]:
        """The anchor's folder (as _opened), with the lock every process takes."""
        with self._opened() as (folder, owner):
            path = self._folder / _LOCK
            fd = os.open(
                _LOCK,
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                0o600,
                dir_fd=folder,
            )
            try:
                _check_owned(fd, path, owner)
                if os.geteuid() == 0 and os.fstat(fd).st_uid != owner[0]:
                    os.fchown(fd, *owner)  # root made it: the kiosk's account takes it too
                deadline = time.monotonic() + self._lock_timeout_s
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise StoreBusy(
                                f"the audit anchor {path} stayed locked for "
                                f"{self._lock_timeout_s:g} s by another process; try again"
                            ) from None
                        time.sleep(_LOCK_POLL_S)
                yield folder, owner
            finally:
                os.close(fd)  # releases the lock


def _check_owned(fd: int, path: Path, owner: Owner) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise AnchorUntrusted(f"{path} is not a regular file")
    if info.st_uid not in {os.geteuid(), owner[0]}:
        raise AnchorUntrusted(f"{path} is not owned by this user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise AnchorUntrusted(f"{path} is open to other users (mode {info.st_mode & 0o777:o})")


def _exists(folder: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _read_owned(folder: int, path: Path, max_bytes: int, owner: Owner) -> bytes:
    try:
        fd = os.open(
            path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder
        )
    except OSError as error:
        raise AnchorUntrusted(f"{path} cannot be opened ({error.strerror})") from error
    with os.fdopen(fd, "rb") as file:
        _check_owned(fd, path, owner)
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise AnchorUntrusted(f"{path} is larger than an anchor file can be")
    return data


def _write_atomically(
    folder: int, name: str, data: bytes, owner: Owner, *, durable_rename: bool
) -> None:
    """Replace ``name`` in ``folder`` whole, given to ``owner``. Its content is on disk
    before the rename; the rename itself is made durable only when asked."""
    replace_in(folder, name, data, owner)
    if durable_rename:
        os.fsync(folder)
