"""Everything kiosk-admin prints: results on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Report:
    data: dict[str, Any]
    text: str
    exit_code: int = 0
    """Non-zero when the command ran but found something wrong (health)."""


def emit(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.data, default=str, ensure_ascii=False))
    else:
        print(report.text)


def emit_error(message: str, exit_code: int, as_json: bool, prefix: str = "kiosk-admin") -> None:
    line = " ".join(message.split())
    if as_json:
        print(
            json.dumps({"error": line, "exit_code": exit_code}, ensure_ascii=False), file=sys.stderr
        )
    else:
        print(f"{prefix}: error: {line}", file=sys.stderr)


def progress(message: str) -> None:
    """A long command's progress, on stderr so stdout stays the result."""
    print(message, file=sys.stderr, flush=True)
