"""kiosk-server after its new-user trial (issue 29): atomic changes, the consent an API
key may give, the keys a key may make, NUL text, token lifetimes, the signing key
file's safety, no similarity for an unknown face, one-line errors in the API's words."""

from __future__ import annotations

import os
import pwd
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from api.app import DOCS_ASSETS
from api.problems import UNREADABLE_BODY
from api.services import ApiServices
from api.signing_keys import SigningKeys
from api.tokens import TokenIssuer
from core.records import Role
from tests.api_fixtures import admin, bearer, enrollment_form, photo_part

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


async def _enrolled(api: httpx.AsyncClient, headers: dict[str, str], photo: Path) -> str:
    answer = await api.post(
        "/people", headers=headers, data=enrollment_form(), files=[photo_part(photo, "photos")]
    )
    assert answer.status_code == 201, answer.text
    person_id: str = answer.json()["person_id"]
    return person_id


def _key(services: ApiServices, name: str, role: Role) -> dict[str, str]:
    made = services.api_keys.create(
        admin(services), name, role, datetime.now(UTC) + timedelta(days=30)
    )
    return {"X-API-Key": made.secret}


async def test_a_patch_refused_for_its_groups_changes_nothing(
    api: httpx.AsyncClient, yaoming_jpg: Path
) -> None:
    alice = await bearer(api, "alice")
    enrolled = await api.post(
        "/people", headers=alice, data=enrollment_form(), files=[photo_part(yaoming_jpg, "photos")]
    )
    assert enrolled.status_code == 201, enrolled.text
    # No group named: the groups joined, as stored (a fresh site's default group).
    assert enrolled.json()["groups"] == ["everyone"]
    person_id = enrolled.json()["person_id"]

    refused = await api.patch(
        f"/people/{person_id}",
        headers=alice,
        json={"name": "Ming Yao", "badge": "B-0043", "groups": ["no-such-group"]},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "urn:face-kiosk:problem:unknown-group"
    assert "no access group 'no-such-group'" in refused.json()["detail"]
    shown = (await api.get(f"/people/{person_id}", headers=alice)).json()
    assert (shown["name"], shown["external_ref"], shown["groups"]) == (
        "Yao Ming",
        "B-0042",
        ["everyone"],
    )
    audit = await api.get("/audit", headers=alice, params={"action": "person."})
    actions = [e["action"] for e in audit.json()["events"]]
    assert "person.details_changed" not in actions
    assert "person.access_changed" not in actions

    # The access part first, then the name: the name refused, the groups stay as well.
    blank = await api.patch(
        f"/people/{person_id}",
        headers=alice,
        json={"groups": [], "valid_until": "2030-01-01", "name": "  "},
    )
    assert blank.status_code == 422, blank.text
    shown = (await api.get(f"/people/{person_id}", headers=alice)).json()
    assert (shown["name"], shown["groups"], shown["valid_until"]) == (
        "Yao Ming",
        ["everyone"],
        None,
    )
    audit = await api.get("/audit", headers=alice, params={"action": "person."})
    assert "person.access_changed" not in [e["action"] for e in audit.json()["events"]]

    changed = await api.patch(
        f"/people/{person_id}", headers=alice, json={"name": "Ming Yao", "groups": []}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Ming Yao"


async def test_an_enrollment_naming_an_unknown_group_is_422(
    api: httpx.AsyncClient, yaoming_jpg: Path
) -> None:
    alice = await bearer(api, "alice")
    refused = await api.post(
        "/people",
        headers=alice,
        data=enrollment_form(groups="no-such-group"),
        files=[photo_part(yaoming_jpg, "photos")],
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "urn:face-kiosk:problem:unknown-group"
    assert (await api.get("/people", headers=alice)).json()["people"] == []


async def test_an_api_key_gives_the_signed_forms_reference_never_in_person_consent(
    api: httpx.AsyncClient, api_services: ApiServices, yaoming_jpg: Path
) -> None:
    key = _key(api_services, "hr-sync", Role.ENROLLER)
    photos = [photo_part(yaoming_jpg, "photos")]
    in_person = await api.post(
        "/people",
        headers=key,
        data={"name": "Yao Ming", "consent_in_person": "true"},
        files=photos,
    )
    assert in_person.status_code == 422, in_person.text
    assert "an API key cannot witness consent in person" in in_person.json()["detail"]
    assert "consent_reference" in in_person.json()["detail"]
    both = await api.post(
        "/people",
        headers=key,
        data={**enrollment_form(), "consent_in_person": "true"},
        files=photos,
    )
    assert both.status_code == 422, both.text
    without = await api.post(
        "/people", headers=key, data={"name": "Yao Ming", "consent_reference": " "}, files=photos
    )
    assert without.status_code == 422, without.text
    assert "needs consent_reference" in without.json()["detail"]

    enrolled = await api.post("/people", headers=key, data=enrollment_form(), files=photos)
    assert enrolled.status_code == 201, enrolled.text
    shown = await api.get(f"/people/{enrolled.json()['person_id']}", headers=key)
    [consent] = shown.json()["consents"]
    assert consent["form_reference"] == "HR-2026-0412"


async def test_only_a_logged_in_admin_makes_api_keys(
    api: httpx.AsyncClient, api_services: ApiServices
) -> None:
    key = _key(api_services, "ops", Role.ADMIN)
    later = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    by_key = await api.post(
        "/api-keys", headers=key, json={"name": "minted", "role": "admin", "expires_at": later}
    )
    assert by_key.status_code == 403, by_key.text
    assert "an API key may not create API keys" in by_key.json()["detail"]

    alice = await bearer(api, "alice")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    expired = await api.post(
        "/api-keys", headers=alice, json={"name": "late", "role": "auditor", "expires_at": past}
    )
    assert expired.status_code == 422, expired.text
    assert "expires_at is in the past" in expired.json()["detail"]
    made = await api.post(
        "/api-keys", headers=alice, json={"name": "minted", "role": "admin", "expires_at": later}
    )
    assert made.status_code == 201, made.text
    again = await api.post(
        "/api-keys", headers=alice, json={"name": "minted", "role": "auditor", "expires_at": later}
    )
    assert again.status_code == 409, again.text
    assert again.json()["detail"].endswith("already exists; choose another name")
    names = [k["name"] for k in (await api.get("/api-keys", headers=alice)).json()]
    assert sorted(names) == ["minted", "ops"]


async def test_text_with_a_nul_character_is_422_naming_the_field(
    api: httpx.AsyncClient, yaoming_jpg: Path
) -> None:
    alice = await bearer(api, "alice")
    searched = await api.get("/people", headers=alice, params={"search": "Yao\x00"})
    assert searched.status_code == 422, searched.text
    assert searched.json()["detail"].startswith("query.search contains a NUL character")

    person_id = await _enrolled(api, alice, yaoming_jpg)
    renamed = await api.patch(f"/people/{person_id}", headers=alice, json={"name": "Yao\x00"})
    assert renamed.status_code == 422, renamed.text
    assert renamed.json()["detail"].startswith("body.name contains a NUL character")
    login = await api.post("/token", data={"username": "alice\x00", "password": "x"})
    assert login.status_code == 422, login.text
    assert login.json()["detail"].startswith("body.username contains a NUL character")
    enrolled = await api.post(
        "/people",
        headers=alice,
        data=enrollment_form(name="Ming\x00Yao", badge="B-7"),
        files=[photo_part(yaoming_jpg, "photos")],
    )
    assert enrolled.status_code == 422, enrolled.text
    assert enrolled.json()["detail"].startswith("body.name contains a NUL character")
    shown = await api.get(f"/people/{person_id}", headers=alice)
    assert shown.json()["name"] == "Yao Ming"


async def test_a_token_living_longer_than_the_set_lifetime_is_refused(
    api: httpx.AsyncClient, api_services: ApiServices, api_data_dir: Path
) -> None:
    alice = admin(api_services)
    lifetime = timedelta(minutes=api_services.settings.api.access_token_minutes)
    # Signed with the server's own key, but valid for a month.
    month = timedelta(days=30)
    forged = TokenIssuer(SigningKeys(api_data_dir, month), month).issue(alice).token
    refused = await api.get("/people", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401, refused.text
    fair = TokenIssuer(SigningKeys(api_data_dir, lifetime), lifetime).issue(alice).token
    served = await api.get("/people", headers={"Authorization": f"Bearer {fair}"})
    assert served.status_code == 200, served.text


async def test_a_signing_key_file_made_unsafe_stops_every_token_until_fixed(
    api: httpx.AsyncClient, api_data_dir: Path, mallory: pwd.struct_passwd
) -> None:
    alice = await bearer(api, "alice")
    keys = api_data_dir / "api" / "signing-keys.json"
    assert (await api.get("/people", headers=alice)).status_code == 200
    for unsafe in ("mode", "owner"):
        if unsafe == "mode":
            keys.chmod(0o644)
        else:
            os.chown(keys, mallory.pw_uid, -1)
        refused = await api.get("/people", headers=alice)
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"] == "urn:face-kiosk:problem:server-misconfigured"
        assert str(api_data_dir) not in refused.text
        login = await api.post(
            "/token", data={"username": "alice", "password": "tall-ladder-orange-77"}
        )
        assert login.status_code == 503, login.text
        os.chown(keys, os.geteuid(), -1)
        keys.chmod(0o600)
        assert (await api.get("/people", headers=alice)).status_code == 200


async def test_an_unknown_face_is_told_no_similarity(
    api: httpx.AsyncClient, yaoming_jpg: Path, t1_jpg: Path
) -> None:
    alice = await bearer(api, "alice")
    await _enrolled(api, alice, yaoming_jpg)
    stranger = await api.post("/identify", headers=alice, files=[photo_part(t1_jpg)])
    [face] = stranger.json()["faces"]
    assert (face["result"], face["similarity"]) == ("unknown", None)
    known = await api.post("/identify", headers=alice, files=[photo_part(yaoming_jpg)])
    [face] = known.json()["faces"]
    assert face["result"] == "match"
    assert 0 < face["similarity"] <= 1


async def test_the_docs_pages_load_nothing_from_another_server(api: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        answer = await api.get(page)
        assert answer.status_code == 200, page
        addresses = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", answer.text)
        assert addresses, page
        assert all(a.startswith(f"{DOCS_ASSETS}/") for a in addresses), addresses
        for address in addresses:  # each script, style and icon is served here
            assert (await api.get(address)).status_code == 200, address
        assert "https://" not in answer.text.replace("https://fastapi.tiangolo.com", "")
    assert '"validatorUrl": null' in (await api.get("/docs")).text  # no validator.swagger.io
    schema = (await api.get("/openapi.json")).json()
    assert "/people/{person_id}" in schema["paths"]


async def test_refusals_are_in_the_apis_words(api: httpx.AsyncClient) -> None:
    alice = await bearer(api, "alice")
    unlock = await api.post(
        "/doors/front-door/unlock", headers=alice, json={"reason": "delivery", "seconds": 0}
    )
    assert unlock.status_code == 422, unlock.text
    assert "the field seconds" in unlock.json()["detail"]
    assert "--" not in unlock.json()["detail"]

    no_boundary = await api.post(
        "/people",
        headers={**alice, "Content-Type": "multipart/form-data"},
        content=b"name=Yao",
    )
    assert no_boundary.status_code == 400, no_boundary.text
    assert no_boundary.json()["detail"] == UNREADABLE_BODY
    text_photo = await api.post(
        "/people",
        headers=alice,
        data={**enrollment_form(), "photos": "not a file"},
        files=[("note", ("note.txt", b"x", "text/plain"))],
    )
    assert text_photo.status_code == 422, text_photo.text
    assert "must be a file part" in text_photo.json()["detail"]
    assert "UploadFile" not in text_photo.json()["detail"]


async def test_a_locked_table_answers_503_within_the_deadline_then_serves_again(
    api: httpx.AsyncClient, api_services: ApiServices, fresh_database: str
) -> None:
    alice = await bearer(api, "alice")
    deadline_s = api_services.settings.database.query_deadline_s
    holder = create_engine(fresh_database, poolclass=NullPool)
    try:
        with holder.connect() as connection:
            connection.execute(text("LOCK TABLE people IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            stuck = await api.get("/people", headers=alice)
            waited = time.monotonic() - started
            assert stuck.status_code == 503, stuck.text
            assert waited < deadline_s + 3
            detail = stuck.json()["detail"]
            assert "database.query_deadline_s" in detail
            assert "\n" not in detail
            assert "/" not in detail.replace("database.query_deadline_s", "")
            assert int(stuck.headers["retry-after"]) >= 1
            connection.rollback()
        served = await api.get("/people", headers=alice)
        assert served.status_code == 200, served.text
    finally:
        holder.dispose()
