"""kiosk-server as a person starts it: a real process on a real port, with keys made by
kiosk-admin api-keys (issue 29)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli_fixtures import as_json

pytestmark = pytest.mark.slow
START_S = 120


@pytest.fixture
def server(admin_cli, fresh_database: str, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """kiosk-server on a free loopback port, on the database admin_cli set up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "api.server", "--port", str(port)),
            *("--data-dir", str(tmp_path), "--database-url", fresh_database),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)  # not listening yet: nothing to wait on but the port
        assert process.poll() is None, process.communicate()[1]
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert f"kiosk-server: starting on {url} (the OpenAPI page at /docs)" in stderr


def test_the_server_serves_its_openapi_page_and_keys_made_by_kiosk_admin(
    server: str, admin_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert "swagger-ui" in httpx.get(f"{server}/docs").text  # served here, no CDN
    schema = httpx.get(f"{server}/openapi.json").json()
    assert {"/people", "/identify", "/token", "/doors"} <= set(schema["paths"])

    made = as_json(
        admin_cli(
            "api-keys",
            "create",
            "hr-sync",
            "--role",
            "enroller",
            "--expires",
            "30d",
            "--operator",
            "alice",
            "--json",
        )
    )
    key = {"X-API-Key": made["key"]}
    assert made["account"] == "apikey.hr-sync"
    assert httpx.get(f"{server}/people", headers=key).status_code == 200
    listed = as_json(admin_cli("api-keys", "list", "--operator", "alice", "--json"))
    assert made["key"] not in json.dumps(listed)

    as_json(admin_cli("api-keys", "revoke", "hr-sync", "--operator", "alice", "--json"))
    refused = httpx.get(f"{server}/people", headers=key)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"

    keys = tmp_path / "api" / "signing-keys.json"
    assert keys.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "api").stat().st_mode & 0o777 == 0o700
    log = (tmp_path / "logs" / "api.log.jsonl").read_text()
    assert refused.headers["x-request-id"] in log
