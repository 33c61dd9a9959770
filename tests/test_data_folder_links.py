"""Root at work in a data folder another local user owns (or a folder it was given, as
``--out``) never writes, chmods, chowns or removes through a link that user planted:
the entry is refused, by name, or replaced, and its target is left as it was
(owned_files)."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import numpy as np
import pytest

from admin.calibration_report import write_report
from admin.calibration_results import ModelRun
from admin.embedding_cache import EmbeddingCache
from core.calibration.dataset import Identity
from core.calibration.rates import (
    equal_error_rate,
    false_positive_identification_rate,
    fmr_at,
    fnmr_at,
    threshold_for_fmr,
)
from core.errors import UnsafeDataEntry
from core.settings import TelemetrySettings
from owned_files.entries import open_file
from owned_files.folders import UnsafeEntry
from storage.postmaster import PID_FILE, set_aside_stale_files
from storage.server_access import write_private
from storage.spool import EventSpool
from telemetry.json_log import LOG_FILE, log_to_files
from tests.cli_fixtures import run
from tests.local_attacker import planted, state, untouched


@pytest.mark.slow  # runs kiosk or kiosk-admin as a process of its own
def test_a_lock_file_linked_to_a_root_file_is_refused_and_the_file_stays_roots(
    tmp_path: Path, mallory: pwd.struct_passwd, root_file: Path
) -> None:
    before = untouched(root_file)
    home = tmp_path / "mal"
    data = home / "kiosk"
    access = data / "postgres-access"
    access.mkdir(parents=True)
    (access / "lock").symlink_to(root_file)
    planted(mallory, home, data, access, access / "lock")

    result = run("operators", "list", "--operator", "alice", data_dir=data)

    assert untouched(root_file) == before
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{access / 'lock'} is a symbolic link" in lines[0]
    assert "remove it" in lines[0]


def test_write_private_replaces_a_planted_link_and_gives_the_file_to_the_folders_owner(
    tmp_path: Path, mallory: pwd.struct_passwd, root_file: Path
) -> None:
    before = untouched(root_file)
    folder = tmp_path / "access"
    folder.mkdir(mode=0o700)
    (folder / "handles.json").symlink_to(root_file)
    planted(mallory, folder, folder / "handles.json")

    write_private(folder / "handles.json", "[]")

    assert untouched(root_file) == before
    written = (folder / "handles.json").lstat()
    assert (written.st_uid, written.st_mode & 0o777) == (mallory.pw_uid, 0o600)
    assert not (folder / "handles.json").is_symlink()


def test_a_log_file_linked_elsewhere_is_refused_and_its_target_gets_no_line(
    tmp_path: Path, mallory: pwd.struct_passwd, root_file: Path
) -> None:
    before = untouched(root_file)
    data = tmp_path / "kiosk"
    logs = data / "logs"
    logs.mkdir(parents=True)
    (logs / LOG_FILE).symlink_to(root_file)
    planted(mallory, data, logs, logs / LOG_FILE)

    with pytest.raises(UnsafeDataEntry, match=r"is a symbolic link; .*remove it"):
        log_to_files(data, TelemetrySettings())

    assert untouched(root_file) == before


def test_a_hard_link_to_a_root_file_is_refused_not_given_away(
    tmp_path: Path, mallory: pwd.struct_passwd, root_file: Path
) -> None:
    before = untouched(root_file)
    folder = tmp_path / "mal"
    folder.mkdir()
    os.link(root_file, folder / "lock")
    planted(mallory, folder)

    with pytest.raises(UnsafeEntry, match="not a plain file of its own"):
        open_file(folder / "lock", os.O_RDWR | os.O_CREAT)

    assert untouched(root_file) == before


def test_a_file_another_account_owns_is_refused(tmp_path: Path, mallory: pwd.struct_passwd) -> None:
    """A file that is neither ours nor the folder owner's is not written to."""
    (tmp_path / "lock").write_text("")
    planted(mallory, tmp_path / "lock")  # tmp_path is root's: mallory is a stranger here

    with pytest.raises(UnsafeEntry, match="belongs to another account"):
        open_file(tmp_path / "lock", os.O_RDWR | os.O_CREAT)


# ---- what else root writes in a data folder or a folder it is given -------------------------


def test_a_spool_folder_linked_elsewhere_is_refused_and_its_target_left_alone(
    tmp_path: Path, mallory: pwd.struct_passwd, root_folder: Path
) -> None:
    """Opening the spool tightens the modes in its folder and makes its lock and disk
    reserve there: through mallory's link, that would be in /etc."""
    before = state(root_folder)
    data = tmp_path / "kiosk"
    data.mkdir()
    (data / "spool").symlink_to(root_folder)
    planted(mallory, data, data / "spool")

    with pytest.raises(UnsafeDataEntry, match=r"spool is a symbolic link; .*remove it"):
        EventSpool(data / "spool" / "events.jsonl")

    assert state(root_folder) == before


def test_a_calibration_cache_folder_linked_elsewhere_gets_no_file(
    tmp_path: Path, mallory: pwd.struct_passwd, root_folder: Path
) -> None:
    before = state(root_folder)
    data = tmp_path / "kiosk"
    data.mkdir()
    (data / "calibration-cache").symlink_to(root_folder)
    planted(mallory, data, data / "calibration-cache")
    cache = EmbeddingCache(data / "calibration-cache" / "model.npz")
    cache.put("an image's hash", "no_face")

    with pytest.raises(UnsafeDataEntry, match="calibration-cache is a symbolic link"):
        cache.save()

    assert state(root_folder) == before


def test_a_report_file_linked_to_a_root_file_is_replaced_not_written_through(
    tmp_path: Path, mallory: pwd.struct_passwd, root_file: Path
) -> None:
    """kiosk-admin calibrate --out into a folder another account owns (in /tmp, say):
    each report file replaces what stands in its place and goes to the folder's owner."""
    before = untouched(root_file)
    out = tmp_path / "report"
    out.mkdir()
    for name in ("report.md", "roc.png"):
        (out / name).symlink_to(root_file)
    planted(mallory, out, out / "report.md", out / "roc.png")

    files = write_report(
        out, tmp_path, [Identity("a", (tmp_path / "a.jpg",))], False, 10, [made_up_run()]
    )

    assert untouched(root_file) == before
    for path in files.values():
        info = path.lstat()
        assert stat.S_ISREG(info.st_mode), path
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (mallory.pw_uid, 0o600)
    assert "Recommended threshold" in files["markdown"].read_text()


def test_leftovers_of_a_dead_server_are_removed_only_in_the_real_folders(
    tmp_path: Path, mallory: pwd.struct_passwd, root_folder: Path
) -> None:
    (root_folder / PID_FILE).write_text("12345\n/elsewhere\n0\n")
    before = state(root_folder)
    data = tmp_path / "kiosk"
    data.mkdir()
    (data / "postgres").symlink_to(root_folder)
    planted(mallory, data, data / "postgres")

    with pytest.raises(UnsafeEntry, match="postgres is a symbolic link"):
        set_aside_stale_files(data / "postgres", data / "postgres")

    assert state(root_folder) == before


def made_up_run() -> ModelRun:
    """One model's results on made-up scores: the report's files are what is tested."""
    generator = np.random.default_rng(26)
    genuine = np.clip(generator.normal(0.6, 0.1, 400), -1, 1)
    impostor = np.clip(generator.normal(0.1, 0.1, 4000), -1, 1)
    eer, eer_threshold = equal_error_rate(genuine, impostor)
    target = threshold_for_fmr(genuine, impostor, 1e-2)
    return ModelRun(
        label="made-up",
        template_model="made-up",
        images=20,
        acquired=20,
        failures={},
        genuine=genuine,
        impostor=impostor,
        skipped_pairs=0,
        eer=eer,
        eer_threshold=eer_threshold,
        points=(target,),
        target=target,
        fpir_at_gallery=false_positive_identification_rate(target.fmr, 10),
        current_threshold=0.4,
        current_fmr=fmr_at(impostor, 0.4),
        current_fnmr=fnmr_at(genuine, 0.4),
    )
