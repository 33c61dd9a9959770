"""Errors as RFC 9457 problem details (application/problem+json), with the one-line
messages the CLI prints and the request id to find the request in the log."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.errors import (
    AlreadyEnrolled,
    AuthenticationFailed,
    ConsentMissing,
    InputRejected,
    InvalidValue,
    KioskError,
    LoginLocked,
    NotAllowed,
    NotFound,
    RecognitionPaused,
    ReenrollmentPending,
    StoreError,
)
from storage.request_context import CURRENT_REQUEST_ID

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
_TYPE = "urn:face-kiosk:problem:"

# The most specific class first: the first that matches gives the status and type.
_STATUSES: tuple[tuple[type[KioskError], int, str], ...] = (
    (LoginLocked, 429, "login-locked"),
    (AuthenticationFailed, 401, "not-authenticated"),
    (ConsentMissing, 422, "consent-missing"),
    (AlreadyEnrolled, 409, "already-enrolled"),
    (ReenrollmentPending, 409, "reenrollment-pending"),
    (NotAllowed, 403, "not-allowed"),
    (NotFound, 404, "not-found"),
    (InvalidValue, 422, "invalid-value"),
    (InputRejected, 422, "input-rejected"),
    (RecognitionPaused, 429, "recognition-paused"),
    (StoreError, 503, "database-unavailable"),
)


class ApiProblem(Exception):
    """A refusal of the API itself (a limit, a full pool), not of a core service."""

    def __init__(
        self, status: int, code: str, detail: str, retry_after_s: float | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after_s = retry_after_s


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    retry_after_s: float | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": _TYPE + code,
        "title": code.replace("-", " "),
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    request_id = CURRENT_REQUEST_ID.get()
    if request_id is not None:
        body["request_id"] = request_id
    body.update(extra or {})
    headers = {}
    if retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def kiosk_problem(error: KioskError, instance: str, busy_retry_after_s: float) -> JSONResponse:
    status, code = next(
        ((status, code) for kind, status, code in _STATUSES if isinstance(error, kind)),
        (500, "server-error"),
    )
    retry: float | None = None
    if isinstance(error, LoginLocked):
        retry = (error.retry_at - datetime.now(UTC)).total_seconds()
    elif isinstance(error, RecognitionPaused):
        retry = error.retry_after_s
    elif isinstance(error, StoreError):
        retry = busy_retry_after_s
    extra: dict[str, Any] = {}
    if isinstance(error, AlreadyEnrolled) and error.person_id is not None:
        extra["person_id"] = str(error.person_id)
    if status == 500:
        log.error("%s: %s", type(error).__name__, error)
    return problem_response(
        status, code, str(error), instance=instance, retry_after_s=retry, extra=extra
    )


def add_problem_handlers(app: FastAPI, busy_retry_after_s: float) -> None:
    async def on_kiosk_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, KioskError)
        return kiosk_problem(error, request.url.path, busy_retry_after_s)

    async def on_api_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiProblem)
        return problem_response(
            error.status,
            error.code,
            error.detail,
            instance=request.url.path,
            retry_after_s=error.retry_after_s,
        )

    async def on_invalid_request(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in error.errors()[:5]
        ]
        return problem_response(
            422,
            "invalid-request",
            "the request is not valid: " + "; ".join(problems) + " (see /docs)",
            instance=request.url.path,
        )

    async def on_http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        code = {404: "no-such-route", 405: "method-not-allowed"}.get(error.status_code, "http")
        return problem_response(
            error.status_code, code, str(error.detail), instance=request.url.path
        )

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected %s on %s", type(error).__name__, request.url.path, exc_info=error)
        return problem_response(
            500,
            "server-error",
            f"unexpected {type(error).__name__}; the server log has the details under the "
            "request id",
            instance=request.url.path,
        )

    app.add_exception_handler(KioskError, on_kiosk_error)
    app.add_exception_handler(ApiProblem, on_api_problem)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
