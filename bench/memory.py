"""Resident memory of a process, from /proc (Linux) or getrusage elsewhere."""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def resident_mb(field: str = "VmRSS") -> float:
    """This process's resident set now (VmRSS) or at its peak (VmHWM), in MB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)
