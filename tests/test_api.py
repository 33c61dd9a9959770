"""kiosk-server against the real app, models and embedded database (issue 29)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.services import ApiServices
from core.accounts.operators import OperatorService
from core.records import Role
from tests.api_fixtures import admin, bearer, enrollment_form, photo_part

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
MIB = 1024 * 1024


async def test_enroll_identify_delete_as_the_cli_does(
    api: httpx.AsyncClient, yaoming_jpg: Path, t1_jpg: Path
) -> None:
    alice = await bearer(api, "alice")
    enrolled = await api.post(
        "/people",
        headers={**alice, "X-Request-ID": "hr-sync-0001"},
        data=enrollment_form(),
        files=[photo_part(yaoming_jpg, "photos")],
    )
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.headers["x-request-id"] == "hr-sync-0001"
    person_id = enrolled.json()["person_id"]
    assert enrolled.json()["templates"] == 1

    found = await api.post("/identify", headers=alice, files=[photo_part(yaoming_jpg)])
    assert found.status_code == 200, found.text
    [face] = found.json()["faces"]
    assert (face["result"], face["person_id"]) == ("match", person_id)

    stranger = await api.post("/identify", headers=alice, files=[photo_part(t1_jpg)])
    assert stranger.json()["faces"][0]["result"] == "unknown"

    shown = await api.get(f"/people/{person_id}", headers=alice)
    assert shown.json()["external_ref"] == "B-0042"
    assert shown.json()["consents"][0]["form_reference"] == "HR-2026-0412"

    events = await api.get("/access-events", headers=alice, params={"kiosk": "kiosk-server"})
    recorded = {e["person_id"] for e in events.json()["events"] if e["outcome"] == "granted"}
    assert recorded == {person_id}

    deleted = await api.delete(f"/people/{person_id}", headers=alice)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["templates_deleted"] == 1
    after = await api.post("/identify", headers=alice, files=[photo_part(yaoming_jpg)])
    assert after.json()["faces"][0]["result"] == "unknown"

    audit = await api.get("/audit", headers=alice, params={"action": "person."})
    by_action = {e["action"]: e for e in audit.json()["events"]}
    assert by_action["person.enroll"]["details"]["request_id"] == "hr-sync-0001"
    assert by_action["person.enroll"]["actor"] == "alice"
    assert "person.delete" in by_action


async def test_no_token_is_401_and_an_auditor_may_not_enroll(
    api: httpx.AsyncClient, yaoming_jpg: Path
) -> None:
    nobody = await api.get("/people")
    assert nobody.status_code == 401
    assert nobody.headers["content-type"] == "application/problem+json"
    assert nobody.headers["www-authenticate"] == "Bearer"
    assert nobody.json()["request_id"] == nobody.headers["x-request-id"]

    otto = await bearer(api, "otto")
    refused = await api.post(
        "/people", headers=otto, data=enrollment_form(), files=[photo_part(yaoming_jpg, "photos")]
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == "operator otto is auditor and may not enroll people"
    audit = await api.get("/audit", headers=otto, params={"action": "permission.denied"})
    assert [(e["actor"], e["target"]) for e in audit.json()["events"]] == [("otto", "enroll")]


async def test_a_disabled_operators_token_is_refused_at_once(
    api: httpx.AsyncClient, api_services: ApiServices
) -> None:
    erin = await bearer(api, "erin")
    assert (await api.get("/people", headers=erin)).status_code == 200
    operators = OperatorService(api_services.store.operators, api_services.settings.security)
    operators.set_disabled(admin(api_services), "erin", True)
    refused = await api.get("/people", headers=erin)
    assert refused.status_code == 401
    assert "the session of erin ended" in refused.json()["detail"]
    login = await api.post("/token", data={"username": "erin", "password": "x" * 12})
    assert login.status_code == 401


async def test_a_revoked_api_key_is_refused_at_once(
    api: httpx.AsyncClient, api_services: ApiServices
) -> None:
    alice = admin(api_services)
    made = api_services.api_keys.create(
        alice, "hr-sync", Role.ENROLLER, datetime.now(UTC) + timedelta(days=30)
    )
    key = {"X-API-Key": made.secret}
    assert (await api.get("/people", headers=key)).status_code == 200
    # The key's account is the actor of what it does, and it may not do more than its role.
    assert (await api.get("/audit", headers=key)).status_code == 403
    api_services.api_keys.revoke(alice, "hr-sync")
    refused = await api.get("/people", headers=key)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


async def test_a_full_inference_pool_answers_429_with_retry_after(
    api: httpx.AsyncClient, api_app: FastAPI, yaoming_jpg: Path
) -> None:
    alice = await bearer(api, "alice")
    pool = api_app.state.pool
    limits = api_app.state.services.settings.api
    release = threading.Event()
    # Every worker and queue place taken by work that waits until released.
    holding = [
        asyncio.ensure_future(pool.run(release.wait))
        for _ in range(limits.inference_workers + limits.inference_queue)
    ]
    await _until(lambda: pool.in_flight == len(holding))
    try:
        busy = await api.post("/identify", headers=alice, files=[photo_part(yaoming_jpg)])
        assert busy.status_code == 429, busy.text
        assert int(busy.headers["retry-after"]) >= 1
        assert busy.json()["type"] == "urn:face-kiosk:problem:inference-busy"
    finally:
        release.set()
        await asyncio.gather(*holding)
    served = await api.post("/identify", headers=alice, files=[photo_part(yaoming_jpg)])
    assert served.status_code == 200, served.text


async def test_a_30_mib_upload_is_refused_before_it_is_read_whole(
    api: httpx.AsyncClient,
) -> None:
    alice = await bearer(api, "alice")
    sent = 0

    async def thirty_mib() -> AsyncIterator[bytes]:
        nonlocal sent
        yield (
            b'--x\r\nContent-Disposition: form-data; name="photo"; filename="big.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        for _ in range(30):
            sent += MIB
            yield b"\0" * MIB

    # Without a length the server counts as it reads; with one it refuses at once.
    streamed = await api.post(
        "/identify",
        headers={**alice, "Content-Type": "multipart/form-data; boundary=x"},
        content=thirty_mib(),
    )
    assert streamed.status_code == 413, streamed.text
    assert sent < 30 * MIB
    declared = await api.post(
        "/identify",
        headers={**alice, "Content-Length": str(30 * MIB), "Content-Type": "image/jpeg"},
        content=b"\0" * (30 * MIB),
    )
    assert declared.status_code == 413
    assert "larger than 25 MiB" in declared.json()["detail"]


async def _until(condition) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition was not met within 2 s")


async def test_photos_details_verify_every_face_and_withdrawal(
    api: httpx.AsyncClient, yaoming_jpg: Path, players_jpg: Path, photos: Path, t1_jpg: Path
) -> None:
    alice = await bearer(api, "alice")
    enrolled = await api.post(
        "/people", headers=alice, data=enrollment_form(), files=[photo_part(yaoming_jpg, "photos")]
    )
    person_id = enrolled.json()["person_id"]

    more = await api.post(
        f"/people/{person_id}/photos",
        headers=alice,
        files=[photo_part(photos / "yaoming_mirrored.jpg", "photos")],
    )
    assert more.status_code == 200, more.text
    assert more.json()["templates"] == 2
    stranger = await api.post(
        f"/people/{person_id}/photos", headers=alice, files=[photo_part(t1_jpg, "photos")]
    )
    assert stranger.status_code == 422, stranger.text

    changed = await api.patch(
        f"/people/{person_id}", headers=alice, json={"name": "Ming Yao", "badge": None}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["external_ref"]) == ("Ming Yao", None)

    same = await api.post(
        "/verify", headers=alice, data={"person_id": person_id}, files=[photo_part(yaoming_jpg)]
    )
    assert same.json()["verified"] is True, same.text
    assert 0 < same.json()["similarity"] <= 1
    other = await api.post(
        "/verify", headers=alice, data={"person_id": person_id}, files=[photo_part(t1_jpg)]
    )
    assert other.json()["verified"] is False, other.text
    assert other.json()["similarity"] is None  # how close a refused face came is not told

    group = await api.post(
        "/identify", headers=alice, params={"all": "true"}, files=[photo_part(players_jpg)]
    )
    assert group.status_code == 200, group.text
    results = [face["result"] for face in group.json()["faces"]]
    assert len(results) > 1
    assert results.count("match") == 1

    withdrawn = await api.post(f"/people/{person_id}/consent/withdraw", headers=alice)
    assert withdrawn.json()["templates_deleted"] == 2
    audit = await api.get("/audit", headers=alice, params={"action": "person."})
    actions = [e["action"] for e in audit.json()["events"]]
    for action in ("person.photos_added", "person.photos_refused", "person.details_changed"):
        assert action in actions
    assert (await api.get("/doors", headers=alice)).json() == {"doors": []}
    unknown = await api.post(
        "/doors/front-door/lockdown", headers=alice, json={"reason": "police request"}
    )
    assert unknown.status_code == 404, unknown.text
