"""Key files, sealed streams and the backup file's header: no database, real files."""

from __future__ import annotations

import io
import secrets
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.administration.backup_schedule import backup_name, next_backup, to_remove
from core.errors import BackupFailed
from storage.backup_file import SealedHeader, copy_payload, read_header, written
from storage.sealed_stream import (
    CHUNK_BYTES,
    Sealer,
    WrongKey,
    new_key_file,
    read_key_file,
    unseal,
)

HEADER = b"face-kiosk test 1\n{}\n"


def sealed(data: bytes, key: bytes, associated: bytes = HEADER) -> bytes:
    target = io.BytesIO()
    sealer = Sealer(key, target, associated)
    # Written in odd pieces: the chunks do not follow the writes.
    for start in range(0, len(data), 333_333):
        sealer.write(data[start : start + 333_333])
    sealer.close()
    return target.getvalue()


def opened(stream: bytes, key: bytes, associated: bytes = HEADER) -> bytes:
    target = io.BytesIO()
    unseal(key, io.BytesIO(stream), target, associated, "the test stream")
    return target.getvalue()


def chunks(stream: bytes) -> tuple[bytes, list[bytes]]:
    """The salt and each framed chunk (length and sealed bytes) of a sealed stream."""
    salt, rest, found = stream[:16], stream[16:], []
    while rest:
        (length,) = struct.unpack(">I", rest[:4])
        found.append(rest[: 4 + length])
        rest = rest[4 + length :]
    return salt, found


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    new_key_file(path)
    return path


def test_a_key_file_is_owner_only_and_never_overwritten(key_file: Path) -> None:
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = read_key_file(key_file)
    assert len(key) == 32
    with pytest.raises(BackupFailed, match="is never overwritten"):
        new_key_file(key_file)
    assert read_key_file(key_file) == key


def test_a_key_file_others_may_read_or_that_is_no_key_is_refused(
    key_file: Path, tmp_path: Path
) -> None:
    key_file.chmod(0o640)
    with pytest.raises(BackupFailed, match=r"readable by others \(mode 640\); chmod 600"):
        read_key_file(key_file)
    key_file.chmod(0o600)
    linked = tmp_path / "linked.key"
    linked.symlink_to(key_file)
    with pytest.raises(BackupFailed, match="not a link"):
        read_key_file(linked)
    short = tmp_path / "short.key"
    short.write_text("c2hvcnQ=\n")
    short.chmod(0o600)
    with pytest.raises(BackupFailed, match="is not a key file"):
        read_key_file(short)
    with pytest.raises(BackupFailed, match="does not exist"):
        read_key_file(tmp_path / "missing.key")


def test_a_stream_of_several_chunks_opens_to_what_was_sealed(key_file: Path) -> None:
    key = read_key_file(key_file)
    data = secrets.token_bytes(2 * CHUNK_BYTES + 12_345)
    stream = sealed(data, key)
    assert len(chunks(stream)[1]) == 3
    assert data[:64] not in stream
    assert opened(stream, key) == data
    assert opened(sealed(b"", key), key) == b""


def test_a_wrong_key_a_changed_header_or_a_changed_byte_never_opens(key_file: Path) -> None:
    key = read_key_file(key_file)
    stream = sealed(secrets.token_bytes(CHUNK_BYTES + 10), key)
    with pytest.raises(WrongKey, match="cannot be opened with this key file"):
        opened(stream, secrets.token_bytes(32))
    with pytest.raises(WrongKey):
        opened(stream, key, HEADER.replace(b"1", b"2"))
    changed = bytearray(stream)
    changed[len(changed) // 2] ^= 1
    with pytest.raises(WrongKey):
        opened(bytes(changed), key)


def test_chunks_dropped_repeated_or_moved_never_open(key_file: Path) -> None:
    key = read_key_file(key_file)
    salt, parts = chunks(sealed(secrets.token_bytes(2 * CHUNK_BYTES + 1), key))
    assert len(parts) == 3
    with pytest.raises(BackupFailed, match="cut short"):
        opened(salt + parts[0] + parts[1], key)  # the last chunk gone
    with pytest.raises(WrongKey):
        opened(salt + parts[1] + parts[0] + parts[2], key)
    with pytest.raises(WrongKey):
        opened(salt + parts[0] + parts[0] + parts[1] + parts[2], key)
    with pytest.raises(WrongKey, match="after its last sealed chunk"):
        opened(salt + b"".join(parts) + parts[2], key)


def test_a_sealed_file_is_owner_only_never_overwritten_and_its_manifest_authenticated(
    key_file: Path, tmp_path: Path
) -> None:
    key = read_key_file(key_file)
    path = tmp_path / "out.backup"
    header = SealedHeader("backup", {"made_at": "now", "heads": {}}, encrypted=True)
    with written(path, header, key) as payload:
        payload.write(b"the archive " * 1000)
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.key", "out.backup"]
    with pytest.raises(BackupFailed, match="never overwrites"), written(path, header, key):
        pass
    with path.open("rb") as file:
        found = read_header(file, "backup", "out.backup")
        assert found.manifest == {"made_at": "now", "heads": {}}
        target = io.BytesIO()
        copy_payload(file, found, key, target, "out.backup")
    assert target.getvalue() == b"the archive " * 1000
    # A manifest changed in the file no longer matches what the chunks authenticate.
    data = path.read_bytes().replace(b'"now"', b'"new"')
    changed = tmp_path / "changed.backup"
    changed.write_bytes(data)
    with changed.open("rb") as file:
        found = read_header(file, "backup", "changed.backup")
        with pytest.raises(WrongKey):
            copy_payload(file, found, key, io.BytesIO(), "changed.backup")
        file.seek(0)
        found = read_header(file, "backup", "changed.backup")
        with pytest.raises(BackupFailed, match="is encrypted; give the key file"):
            copy_payload(file, found, None, io.BytesIO(), "changed.backup")


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.backup"
    header = SealedHeader("backup", {}, encrypted=False)

    def fail_half_way() -> None:
        with written(path, header, None) as payload:
            payload.write(b"half")
            raise RuntimeError("pg_dump failed")

    with pytest.raises(RuntimeError):
        fail_half_way()
    assert list(tmp_path.iterdir()) == []
    missing = tmp_path / "missing" / "out.backup"
    with (
        pytest.raises(BackupFailed, match="does not exist; create it"),
        written(missing, header, None),
    ):
        pass


def test_not_a_backup_is_named() -> None:
    with pytest.raises(BackupFailed, match="is not a face-kiosk backup file"):
        read_header(io.BytesIO(b"PGDMP\x01\x0e"), "backup", "dump.custom")
    with pytest.raises(BackupFailed, match="of format '9'"):
        read_header(io.BytesIO(b"face-kiosk backup 9\n{}\n"), "backup", "future.backup")


def test_the_daily_backup_is_due_at_the_next_time_of_day() -> None:
    zone = timezone(timedelta(hours=2))
    morning = datetime(2026, 3, 10, 1, 0, tzinfo=zone)
    assert next_backup(morning, "02:30") == datetime(2026, 3, 10, 2, 30, tzinfo=zone)
    assert next_backup(morning.replace(hour=2, minute=30), "02:30") == datetime(
        2026, 3, 11, 2, 30, tzinfo=zone
    )
    assert next_backup(morning.replace(hour=23), "02:30") == datetime(
        2026, 3, 11, 2, 30, tzinfo=zone
    )


def test_only_this_kiosks_oldest_scheduled_backups_are_removed() -> None:
    start = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    ours = [backup_name("door-north", start + timedelta(days=n)) for n in range(5)]
    others = [
        backup_name("door-south", start),
        "door-north-manual.backup",
        "notes.txt",
        backup_name("door", start),  # a kiosk whose id is a prefix of ours
    ]
    removed = to_remove([*reversed(ours), *others], "door-north", keep=3)
    assert removed == ours[:2]
    assert to_remove(ours, "door-north", keep=10) == []
    assert to_remove([backup_name("door", start)], "door", keep=0) == [backup_name("door", start)]
