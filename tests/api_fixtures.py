"""kiosk-server in-process: the real app over the real store, models and embedded
PostgreSQL, driven through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from core.records import Operator, Role

if TYPE_CHECKING:  # the server and its store are imported by the fixtures that use them
    import httpx
    from fastapi import FastAPI

    from api.services import ApiServices
    from core.vision.engine import FaceEngine

PASSWORD = "tall-ladder-orange-77"
OTHER_PASSWORD = "quiet-harbour-lantern-58"


@pytest.fixture
def api_data_dir(tmp_path: Path) -> Path:
    """The data folder of api_services (its signing keys are under api/)."""
    return tmp_path / "server-data"


@pytest.fixture
def api_services(
    fresh_database: str, api_data_dir: Path, face_engine: FaceEngine
) -> Iterator[ApiServices]:
    """The server's services on a fresh database, with an admin (alice), an enroller
    (erin) and an auditor (otto)."""
    from api.services import API_KIOSK_ID, build_services
    from config.environment import load_configuration, secure_data_dir
    from config.local_config import CommandLine
    from core.accounts.operators import OperatorService
    from storage.store import open_store

    data_dir = api_data_dir
    location, config = load_configuration(
        str(data_dir), CommandLine(database_url=fresh_database), {}, API_KIOSK_ID
    )
    secure_data_dir(location.data_dir)
    with open_store(location.data_dir, location.database_url) as store:
        services = build_services(location, config, store, face_engine)
        alice = services.authenticator.create_first_admin("alice", PASSWORD)
        operators = OperatorService(store.operators, config.settings.security)
        operators.add(alice, "erin", Role.ENROLLER, PASSWORD)
        operators.add(alice, "otto", Role.AUDITOR, PASSWORD)
        yield services


@pytest.fixture
def api_app(api_services: ApiServices) -> Iterator[FastAPI]:
    from api.app import create_app

    app = create_app(api_services)
    yield app
    app.state.pool.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api(api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    import httpx

    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kiosk.test") as client:
        yield client


async def token_for(api: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    answer = await api.post("/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def bearer(api: httpx.AsyncClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_for(api, username)}"}


def photo_part(path: Path, field: str = "photo") -> tuple[str, tuple[str, bytes, str]]:
    return field, (path.name, path.read_bytes(), "image/jpeg")


def admin(services: ApiServices) -> Operator:
    found = services.store.operators.find_operator("alice")
    assert found is not None
    return found


def enrollment_form(**extra: Any) -> dict[str, Any]:
    return {"name": "Yao Ming", "badge": "B-0042", "consent_reference": "HR-2026-0412", **extra}
