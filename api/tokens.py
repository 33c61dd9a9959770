"""Access tokens: short-lived JWTs (HS256) naming an operator and their session epoch.

A token says only who logged in and when; it grants nothing by itself. Every
request re-reads the operator's account (api.auth), and a disable, a new role or
a new password moves the account's session epoch on, which the token's no longer
matches: refused at once, as the kiosk's own sessions are.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from api.signing_keys import SigningKeys
from core.errors import AuthenticationFailed
from core.records import Operator

ISSUER = "face-kiosk"
AUDIENCE = "kiosk-server"
_ALGORITHM = "HS256"
# Clocks of servers sharing a data folder may differ this much.
_LEEWAY_S = 5
BAD_TOKEN = "the access token is invalid or expired; get a new one from POST /token"


@dataclass(frozen=True)
class TokenClaims:
    username: str
    operator_id: int
    session_epoch: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in_s: int


class TokenIssuer:
    def __init__(self, keys: SigningKeys, lifetime: timedelta) -> None:
        self._keys = keys
        self._lifetime = lifetime

    def issue(self, operator: Operator, now: datetime | None = None) -> IssuedToken:
        now = now or datetime.now(UTC)
        key = self._keys.signing_key()
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": operator.username,
            "oid": operator.id,
            "epoch": operator.session_epoch,
            "role": operator.role.value,
            "iat": now,
            "exp": now + self._lifetime,
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, key.secret, algorithm=_ALGORITHM, headers={"kid": key.kid})
        return IssuedToken(token, int(self._lifetime.total_seconds()))

    def verify(self, token: str) -> TokenClaims:
        """The claims of a token signed by a key still accepted, unexpired, and living
        no longer than api.access_token_minutes (exp - iat); raises
        AuthenticationFailed otherwise (never saying which check failed), and
        UnsafeDataEntry (503) while the signing keys file is unsafe."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.verifying_key(kid) if isinstance(kid, str) else None
            if key is None:
                raise AuthenticationFailed(BAD_TOKEN)
            claims = jwt.decode(
                token,
                key.secret,
                algorithms=[_ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=_LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
            # A token living longer than this server issues them was not issued by it
            # as configured now (a leaked key's forgery, or an older, longer lifetime).
            if int(claims["exp"]) - int(claims["iat"]) > self._lifetime.total_seconds() + _LEEWAY_S:
                raise AuthenticationFailed(BAD_TOKEN)
            return TokenClaims(str(claims["sub"]), int(claims["oid"]), int(claims["epoch"]))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as error:
            raise AuthenticationFailed(BAD_TOKEN) from error
