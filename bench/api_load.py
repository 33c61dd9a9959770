"""kiosk-bench api: kiosk-server under load from Locust (headless, a subprocess).

A throwaway data folder with the embedded PostgreSQL, one admin and one enrolled
person (a package photo); kiosk-server on a loopback port; Locust users ramped up
on /identify with that photo until the pool saturates. Reported: requests per
second, p50/p95/p99 of the answered ones, the share of 429s, the 5xx (should be
none), and whether every answered identification's access event was stored.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "quiet-harbour-lantern-58"
START_S = 180
_LOCUSTFILE = Path(__file__).with_name("api_locustfile.py")


@dataclass(frozen=True)
class ApiLoadResult:
    users: int
    seconds: int
    answered: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    busy_429: int
    failures: int
    events_stored: int

    @property
    def share_429(self) -> float:
        total = self.answered + self.busy_429 + self.failures
        return self.busy_429 / total if total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "share_429": self.share_429}


def run(scratch: Path, photo: Path, users: int, seconds: int) -> ApiLoadResult:
    data = scratch / "api-bench"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env |= {"KIOSK_DATA_DIR": str(data), "KIOSK_PASSWORD": PASSWORD}
    # One load generator is one client address: its rate limit is lifted, so that
    # what answers 429 is the inference pool.
    env |= {"KIOSK_API__RATE_PER_MINUTE": "1000000", "KIOSK_API__RATE_BURST": "100000"}
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [bin_dir / "kiosk-admin", "init", "--admin", "bench"],
        env=env,
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=START_S,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "api.server", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_healthy(url, server)
        token = httpx.post(f"{url}/token", data={"username": "bench", "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        enrolled = httpx.post(
            f"{url}/people",
            headers=bearer,
            timeout=60,
            data={"name": "Bench Person", "consent_reference": "BENCH-1"},
            files={"photos": (photo.name, photo.read_bytes(), "image/jpeg")},
        )
        enrolled.raise_for_status()
        before = _events(url, bearer)
        prefix = scratch / "locust"
        locust_env = env | {
            "KIOSK_BENCH_TOKEN": token.json()["access_token"],
            "KIOSK_BENCH_PHOTO": str(photo),
        }
        subprocess.run(
            [
                bin_dir / "locust",
                "-f",
                str(_LOCUSTFILE),
                "--headless",
                "--host",
                url,
                "-u",
                str(users),
                "-r",
                str(max(1, users // 10) or 1),
                "-t",
                f"{seconds}s",
                "--csv",
                str(prefix),
                "--only-summary",
                "--exit-code-on-error",
                "0",
            ],
            env=locust_env,
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=seconds + 120,
        )
        stored = _events(url, bearer) - before
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=120)
    return _result(prefix, users, seconds, stored)


def _result(prefix: Path, users: int, seconds: int, stored: int) -> ApiLoadResult:
    rows = {row["Name"]: row for row in csv.DictReader(open(f"{prefix}_stats.csv"))}  # noqa: SIM115
    ok = rows.get("identify", {})
    busy = rows.get("identify 429", {})
    answered = int(ok.get("Request Count", 0)) - int(ok.get("Failure Count", 0))
    return ApiLoadResult(
        users=users,
        seconds=seconds,
        answered=answered,
        rps=answered / seconds,
        p50_ms=float(ok.get("50%", 0) or 0),
        p95_ms=float(ok.get("95%", 0) or 0),
        p99_ms=float(ok.get("99%", 0) or 0),
        busy_429=int(busy.get("Request Count", 0)),
        failures=int(ok.get("Failure Count", 0)),
        events_stored=stored,
    )


def _events(url: str, bearer: dict[str, str]) -> int:
    # The server's /metrics counts answers; the access log is what was kept.
    answer = httpx.get(
        f"{url}/access-events", headers=bearer, params={"kiosk": "kiosk-server", "limit": 1}
    )
    answer.raise_for_status()
    events = answer.json()["events"]
    return int(events[0]["id"]) if events else 0


def _wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"kiosk-server stopped: {server.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)  # not listening yet
    raise RuntimeError("kiosk-server did not answer /health in time")


def section(found: ApiLoadResult) -> str:
    """The report's api section, beside the original project's figures."""
    per_request = 1000 / found.rps if found.rps else float("nan")
    return "\n".join(
        [
            "## HTTP API (kiosk-server, Locust)",
            "",
            f"{found.users} Locust users posting a real photo to /identify for {found.seconds} s "
            "(one inference worker, a queue of 2: the defaults).",
            "",
            "| | kiosk-server | original project (per worker) |",
            "|---|---|---|",
            f"| identifications per second | {found.rps:.1f} | 0.75 |",
            f"| p50 / p95 / p99 (ms) | {found.p50_ms:.0f} / {found.p95_ms:.0f} / "
            f"{found.p99_ms:.0f} | about 1,300 |",
            f"| time per answered request at saturation (ms) | {per_request:.0f} | 1,300 |",
            f"| answered 429 (back-pressure) | {found.busy_429} ({found.share_429:.0%}) | |",
            f"| 5xx or lost | {found.failures} | |",
            f"| access events stored / identifications answered | {found.events_stored} / "
            f"{found.answered} (nothing lost: "
            f"{'yes' if found.events_stored >= found.answered else 'NO'}; a request still "
            "running when the run ends is stored but not counted as answered) | |",
        ]
    )
