"""Who may sign in to the embedded server: its superuser, with a password, over the socket.

Being local is not enough. ``pg_hba.conf`` accepts one thing, the ``postgres``
role over the Unix socket with SCRAM-SHA-256, and refuses every other connection
(TCP included). The password is a random secret kept in a libpq password file
that only the kiosk's user can read, beside the data folder, with the lock and
the list of processes using the server: ``<pgdata>-access/``, mode 0700.

A data folder made by an earlier version (``trust``) is brought to this on its
next cold start: the rules are rewritten and a password set, in single-user
mode, before the server listens at all.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from owned_files.entries import Owner, open_file, replace_file, secure_folder
from storage.server_account import ServerAccount, run_as

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
HBA_RULES = (
    "# Written by face-kiosk at every start: the superuser signs in with its password\n"
    "# (SCRAM), over the server's private Unix socket only. Nothing else is accepted.\n"
    f"local all {SUPERUSER} scram-sha-256\n"
)
_SECRET_BYTES = 32


@dataclass(frozen=True)
class AccessFiles:
    """The kiosk's own files about one embedded server, in a folder only it can enter."""

    folder: Path
    lock: Path
    handles: Path
    passfile: Path

    @classmethod
    def beside(cls, pgdata: Path) -> AccessFiles:
        folder = pgdata.with_name(f"{pgdata.name}-access")
        return cls(folder, folder / "lock", folder / "handles.json", folder / "passfile")

    def make_folder(self) -> None:
        """Make the folder, or check it: a real folder of this user (or, for root, of
        the data folder's owner, who gets it), closed to everyone else. Raises
        UnsafeEntry for a link or another account's folder."""
        secure_folder(self.folder)

    def open_lock(self) -> int:
        """A descriptor on the lock file, made if missing, never through a link."""
        return open_file(self.lock, os.O_RDWR | os.O_CREAT)


def is_secured(pgdata: Path, files: AccessFiles) -> bool:
    """The rules are ours and the kiosk has the password."""
    try:
        return (pgdata / "pg_hba.conf").read_text("utf-8") == HBA_RULES and _has_secret(files)
    except OSError:
        return False


def secure(pgdata: Path, files: AccessFiles, account: ServerAccount, timeout_s: float) -> None:
    """Put our rules and a password in place. The server must not be running (the
    data folder's lock is held and no postmaster was found)."""
    hba = pgdata / "pg_hba.conf"
    try:
        current = hba.read_text("utf-8")
    except FileNotFoundError:
        current = ""
    if current != HBA_RULES:
        if _has_trust_rule(current):
            log.warning(
                "the embedded database let local users in without a password; "
                "it now asks for the kiosk's password"
            )
        write_private(hba, HBA_RULES, (account.uid, account.gid))
    if _has_secret(files):
        return
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    # Single-user mode takes its command on stdin and opens no socket: nobody can sign
    # in meanwhile, and the secret never appears on a command line.
    run_as(
        account,
        [
            "postgres", "--single", "-D", str(pgdata),
            "-c", "password_encryption=scram-sha-256", "-c", "log_statement=none",
            "template1",
        ],
        cwd=pgdata,
        timeout_s=timeout_s,
        stdin=f"ALTER ROLE {SUPERUSER} PASSWORD '{secret}';\n",
    )  # fmt: skip
    write_private(files.passfile, f"*:*:*:{SUPERUSER}:{secret}\n")


def write_private(path: Path, text: str, owner: Owner | None = None) -> None:
    """Replace ``path`` atomically with ``text``, readable by ``owner`` only (default:
    the folder's owner, so that root working in a kiosk user's folder leaves files that
    user can still read). The new file is made and given away through descriptors
    (owned_files.entries.replace_file), never by name: the folder's owner may swap
    names under us. Raises UnsafeEntry for a link on the way to the folder."""
    replace_file(path, text.encode("utf-8"), owner)


def _has_secret(files: AccessFiles) -> bool:
    try:
        line = files.passfile.read_text("utf-8").strip()
    except FileNotFoundError:
        return False
    return line.startswith(f"*:*:*:{SUPERUSER}:") and len(line) > len(SUPERUSER) + 7


def _has_trust_rule(rules: str) -> bool:
    lines = (line.split("#", 1)[0].split() for line in rules.splitlines())
    return any("trust" in words for words in lines)
