"""/token (OAuth2 password flow), /api-keys (admins), /health and /metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from api.auth import Actor, Services, login_rate_limited, rate_limited
from api.deadline import within_deadline
from core.accounts.api_keys import ApiKeyInfo
from core.errors import InvalidValue
from core.records import Role

router = APIRouter(tags=["service"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds")


class ApiKeyOut(BaseModel):
    name: str
    account: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100, description="what the key is for, e.g. hr-sync")
    role: Role
    expires_at: datetime = Field(description="with a time zone; at most api.api_key_max_days")


class CreatedKey(ApiKeyOut):
    key: str = Field(description="shown only now: keep it in the client's secret store")


class Health(BaseModel):
    status: str
    database: str
    models: str


@router.post("/token", response_model=Token, dependencies=[Depends(login_rate_limited)])
@within_deadline
def token(services: Services, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Log in with an operator's username and password (the kiosk's accounts, login
    throttle and lockout); returns a short-lived bearer token."""
    operator = services.authenticator.authenticate(form.username, form.password)
    issued = services.tokens.issue(operator)
    return Token(access_token=issued.token, expires_in=issued.expires_in_s)


@router.get("/api-keys", response_model=list[ApiKeyOut], dependencies=[Depends(rate_limited)])
@within_deadline
def list_keys(services: Services, actor: Actor) -> list[ApiKeyOut]:
    """Every API key, never its secret (admins)."""
    return [_key(info) for info in services.api_keys.keys(actor)]


@router.post(
    "/api-keys", status_code=201, response_model=CreatedKey, dependencies=[Depends(rate_limited)]
)
@within_deadline
def create_key(services: Services, actor: Actor, body: NewKey) -> CreatedKey:
    """Make a key with a role and an expiry (admins); the key is in this answer only."""
    if body.expires_at.tzinfo is None:
        raise InvalidValue("expires_at needs a time zone, e.g. 2027-03-31T00:00:00+01:00")
    days = (body.expires_at - datetime.now(body.expires_at.tzinfo)).total_seconds() / 86400
    limit = services.settings.api.api_key_max_days
    if days > limit:
        raise InvalidValue(f"expires_at is more than {limit} days ahead (api.api_key_max_days)")
    made = services.api_keys.create(actor, body.name, body.role, body.expires_at)
    return CreatedKey(**_key(made.info).model_dump(), key=made.secret)


@router.delete("/api-keys/{name}", response_model=ApiKeyOut, dependencies=[Depends(rate_limited)])
@within_deadline
def revoke_key(services: Services, actor: Actor, name: str) -> ApiKeyOut:
    """Revoke a key (admins): refused from its next request on."""
    return _key(services.api_keys.revoke(actor, name))


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
@within_deadline
def health(services: Services, response: Response) -> Health:
    """Whether the database answers and the models are loaded; no credentials needed,
    nothing about the site is told."""
    try:
        with services.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - any failure is "unreachable" to a health probe
        database = "unreachable"
    if database != "ok":
        response.status_code = 503
    return Health(
        status="ok" if database == "ok" else "degraded", database=database, models="loaded"
    )


@router.get("/metrics", response_class=Response, dependencies=[Depends(rate_limited)])
def metrics(request: Request, actor: Actor) -> Response:
    """Prometheus metrics of this server (any authenticated operator or key)."""
    return Response(request.app.state.metrics.exposition(), media_type="text/plain; version=0.0.4")


def _key(info: ApiKeyInfo) -> ApiKeyOut:
    return ApiKeyOut(
        name=info.name,
        account=info.account,
        role=info.role.value,
        created_by=info.created_by,
        created_at=info.created_at,
        expires_at=info.expires_at,
        revoked_at=info.revoked_at,
        revoked_by=info.revoked_by,
    )
