"""The README's pictures come from the repo's script, and the script still works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

# Each test runs kiosk-admin or the kiosk in a process of its own, on a real server.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_the_script_renders_every_picture_the_readme_shows(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.screenshots", "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    written = {Path(line).name for line in result.stdout.split()}
    shown = set(re.findall(r"docs/screenshots/([\w.-]+\.png)", (ROOT / "README.md").read_text()))
    assert shown
    assert shown <= written, shown - written
    assert {p.name for p in (ROOT / "docs" / "screenshots").glob("*.png")} == written
    for width, height in ((1920, 1080), (800, 480)):
        image = QImage(str(tmp_path / f"door-granted-{width}x{height}.png"))
        assert (image.width(), image.height()) == (width, height)
