"""Who is calling: an operator's access token (POST /token) or a machine client's API
key, checked against the database on every request.

A token is only a claim: the account it names is read again on each request, and a
disabled account, a new role or a new password (the session epoch moved on) is
refused at once with 401. A key is looked up by its hash; revoked or expired, it is
refused at once. The services then check the permission, and the store checks it
again inside the action's transaction, as for the kiosk and the CLI.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from api.deadline import within_deadline
from api.limits import RateLimiter
from api.problems import ApiProblem
from api.services import ApiServices
from core.accounts.api_keys import KEY_PREFIX
from core.errors import AuthenticationFailed, SessionExpired
from core.records import Operator

log = logging.getLogger(__name__)

_token = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)
NO_CREDENTIALS = (
    "no credentials: send Authorization: Bearer TOKEN (from POST /token) or X-API-Key: KEY"
)


def services(request: Request) -> ApiServices:
    found: ApiServices = request.app.state.services
    return found


def rate_limited(request: Request) -> None:
    """Refuse with 429 a client over its rate on this route (api.rate_per_minute)."""
    _take(request, request.app.state.rate_limiter)


def login_rate_limited(request: Request) -> None:
    """POST /token's stricter rate (api.token_rate_per_minute)."""
    _take(request, request.app.state.login_rate_limiter)


def _take(request: Request, limiter: RateLimiter) -> None:
    route = getattr(request.scope.get("route"), "path", request.url.path)
    client = request.client.host if request.client else "-"
    wait = limiter.retry_after(client, route)
    if wait is not None:
        request.app.state.metrics.refused("rate_limited")
        raise ApiProblem(
            429,
            "rate-limited",
            f"too many requests to {route} from {client}; try again in a few seconds",
            wait,
        )


@within_deadline
def current_operator(
    request: Request,
    token: Annotated[str | None, Depends(_token)],
    key: Annotated[str | None, Depends(_api_key)],
) -> Operator:
    """The account acting, as it is now. Raises AuthenticationFailed (401)."""
    found = services(request)
    if key:
        operator = found.api_keys.authenticate(key)
    elif token and token.startswith(KEY_PREFIX):
        operator = found.api_keys.authenticate(token)
    elif token:
        claims = found.tokens.verify(token)
        account = found.store.operators.find_operator(claims.username)
        if (
            account is None
            or account.id != claims.operator_id
            or account.disabled
            or account.session_epoch != claims.session_epoch
        ):
            log.info("refused a token of %s: the account changed since", claims.username)
            raise SessionExpired(
                f"the session of {claims.username} ended: the account was disabled or "
                "changed (role, password) since the token was issued; get a new token"
            )
        operator = account
    else:
        raise AuthenticationFailed(NO_CREDENTIALS)
    request.state.actor = operator.username
    return operator


Actor = Annotated[Operator, Depends(current_operator)]
Services = Annotated[ApiServices, Depends(services)]
