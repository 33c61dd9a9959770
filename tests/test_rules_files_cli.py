"""The rules file on the real database, as a person handles it: an export is written
only as a new or regular file, owner-only; an import reads only a regular file,
takes one saved with a byte order mark, and refuses a file exported before the
stored rules last changed (``--force`` imports it anyway)."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.records import Operator
from core.rules.model import Door, Validity
from core.rules.rule_edits import remove_group
from core.rules.rules_file import read_rules_file
from storage.identity_store import SqlIdentityStore
from storage.rules_store import SqlRulesStore
from tests.cli_fixtures import as_json
from tests.rules_cli_fixtures import enroll

# Each test runs kiosk-admin in processes of its own, on a real server.
pytestmark = pytest.mark.slow

Cli = Callable[..., subprocess.CompletedProcess[str]]


def generation(engine: Engine) -> int:
    with engine.connect() as connection:
        found = connection.scalar(text("SELECT generation FROM rules_generation"))
    assert isinstance(found, int)
    return found


def imports(engine: Engine) -> int:
    with engine.connect() as connection:
        found = connection.scalar(
            text("SELECT count(*) FROM audit_events WHERE action = 'rules.imported'")
        )
    assert isinstance(found, int)
    return found


def test_export_replaces_only_a_regular_file_and_never_a_device_fifo_link_or_folder(
    admin_cli: Cli, ada: uuid.UUID, tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    device = tmp_path / "full"  # as /dev/full: every write to it fails
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    folder = tmp_path / "folder"
    folder.mkdir()
    kept = tmp_path / "someone-elses.txt"
    kept.write_text("not the rules")
    link = tmp_path / "link.toml"
    link.symlink_to(kept)
    for target, kind in (
        (fifo, "a FIFO"),
        (device, "a character device"),
        (folder, "a folder"),
        (link, "a symbolic link"),
    ):
        # Refused before a password is asked for.
        result = admin_cli("rules", "export", "--out", target, "--operator", "alice", password=None)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1
        assert f"{target} is {kind}, not a regular file" in result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert stat.S_ISCHR(device.lstat().st_mode)
    assert os.major(device.lstat().st_rdev) == 1
    assert link.is_symlink()
    assert kept.read_text() == "not the rules"
    assert list(folder.iterdir()) == []

    out = tmp_path / "rules.toml"
    out.write_text("an old export")
    out.chmod(0o644)
    written = admin_cli("rules", "export", "--out", out, "--operator", "alice")
    assert written.returncode == 0, written.stderr
    info = out.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()
    assert ada in read_rules_file(out.read_text()).rules.members["staff"]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".rules.toml")]
    assert leftovers == []


def test_import_reads_only_a_regular_file_and_takes_a_byte_order_mark(
    admin_cli: Cli,
    alice: Operator,
    ada: uuid.UUID,
    rules: SqlRulesStore,
    db_engine: Engine,
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "rules.fifo"
    os.mkfifo(fifo)  # nobody writes it: reading it would wait for ever
    refused = admin_cli("rules", "import", fifo, "--operator", "alice", password=None)
    assert refused.returncode == 2
    assert f"{fifo} is a FIFO, not a regular file; give the rules file itself" in refused.stderr

    exported = as_json(admin_cli("rules", "export", "--operator", "alice", "--json"))["text"]
    with_bom = tmp_path / "saved-by-notepad.toml"
    with_bom.write_bytes(b"\xef\xbb\xbf" + exported.encode("utf-8"))
    before = rules.rule_set(actor=alice)
    imported = admin_cli("rules", "import", with_bom, "--operator", "alice", "--json")
    change = as_json(imported)
    assert change["applied"] is True
    assert (change["members_added"], change["members_removed"]) == (0, 0)
    assert rules.rule_set(actor=alice) == before
    # A fault in such a file is named at its line, counted as the editor shows it.
    broken = exported.replace('time_zone = "Europe/Berlin"', 'time_zone = "Berlin"')
    with_bom.write_bytes(b"\xef\xbb\xbf" + broken.encode("utf-8"))
    line = broken.splitlines().index('time_zone = "Berlin"') + 1
    named = admin_cli("rules", "import", with_bom, "--operator", "alice", password=None)
    assert named.returncode == 2
    assert f"saved-by-notepad.toml line {line}: door front:" in named.stderr


def test_an_export_made_before_the_rules_changed_is_refused_and_force_imports_it(
    admin_cli: Cli,
    alice: Operator,
    ada: uuid.UUID,
    identity_store: SqlIdentityStore,
    rules: SqlRulesStore,
    db_engine: Engine,
    tmp_path: Path,
) -> None:
    stale = tmp_path / "rules.toml"
    assert admin_cli("rules", "export", "--out", stale, "--operator", "alice").returncode == 0
    exported_at = generation(db_engine)
    assert f"\ngeneration = {exported_at}\n" in stale.read_text()
    bea = enroll(identity_store, alice, "Bea")  # joins the default group: the rules changed
    assert generation(db_engine) == exported_at + 1
    before = rules.rule_set(actor=alice)
    assert bea in before.members["everyone"]
    imported = imports(db_engine)

    for dry_run in ((), ("--dry-run",)):
        result = admin_cli("rules", "import", stale, *dry_run, "--operator", "alice")
        assert result.returncode == 4, result.stderr
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert (
            f"rules.toml was exported at rules generation {exported_at}, but the stored rules "
            f"are at generation {exported_at + 1}"
        ) in result.stderr
        assert "--force" in result.stderr
    assert rules.rule_set(actor=alice) == before  # Bea is still in her group
    assert imports(db_engine) == imported

    forced = as_json(
        admin_cli("rules", "import", stale, "--force", "--operator", "alice", "--json")
    )
    assert forced["applied"] is True
    assert forced["members_removed"] == 1  # what the stale file undoes: Bea's membership
    assert forced["generation"] == exported_at + 2
    assert bea not in rules.rule_set(actor=alice).members["everyone"]
    # The file imported is behind the rules it made: export afresh before the next change.
    again = admin_cli("rules", "import", stale, "--operator", "alice")
    assert again.returncode == 4
    assert admin_cli("rules", "export", "--out", stale, "--operator", "alice").returncode == 0
    fresh = admin_cli("rules", "import", stale, "--operator", "alice")
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.strip() == "rules imported: nothing changed"
    assert generation(db_engine) == exported_at + 2  # an import that changes nothing: no move
    # A file that names no generation (written by hand) is refused here too.
    unnamed = tmp_path / "by-hand.toml"
    unnamed.write_text(stale.read_text().replace(f"generation = {exported_at + 2}\n", ""))
    assert admin_cli("rules", "import", unnamed, "--operator", "alice").returncode == 4


def test_every_change_to_the_rules_moves_the_generation_on_and_nothing_else_does(
    alice: Operator,
    ada: uuid.UUID,
    identity_store: SqlIdentityStore,
    rules: SqlRulesStore,
    db_engine: Engine,
) -> None:
    def moved(change: Callable[[], object]) -> int:
        before = generation(db_engine)
        change()
        return generation(db_engine) - before

    assert moved(lambda: enroll(identity_store, alice, "Bea")) == 1  # the default group
    staff = frozenset({"staff"})
    assert moved(lambda: rules.set_person_access(ada, actor=alice, groups=staff)) == 0
    both = frozenset({"staff", "everyone"})
    assert moved(lambda: rules.set_person_access(ada, actor=alice, groups=both)) == 1
    validity = Validity(valid_until=None)
    assert moved(lambda: rules.set_person_access(ada, actor=alice, validity=validity)) == 0
    assert moved(lambda: rules.update_door("front", actor=alice, display_name="Main")) == 1
    assert moved(lambda: rules.update_door("front", actor=alice, display_name="Main")) == 0
    assert moved(lambda: rules.ensure_door(Door("new-kiosk", "New", "UTC"))) == 0
    same = rules.rule_set(actor=alice)
    assert moved(lambda: rules.apply_rule_set(same, actor=alice, dry_run=False)) == 0
    assert moved(lambda: rules.apply_rule_set(same, actor=alice, dry_run=True)) == 0
    edit = remove_group("everyone")
    assert moved(lambda: rules.edit_rule_set(edit, actor=alice, what="a test")) == 1
    assert rules.rule_set(actor=alice).generation == generation(db_engine)
