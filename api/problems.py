"""Errors as RFC 9457 problem details (application/problem+json), with the one-line
messages the CLI prints and the request id to find the request in the log."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.errors import (
    AlreadyEnrolled,
    AuthenticationFailed,
    ConfigurationError,
    ConsentMissing,
    InputRejected,
    InvalidValue,
    KioskError,
    LoginLocked,
    NameTaken,
    NotAllowed,
    NotFound,
    RecognitionPaused,
    ReenrollmentPending,
    StoreBusy,
    StoreError,
    StoreUnresponsive,
    UnknownGroup,
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
    (NameTaken, 409, "name-taken"),
    (NotAllowed, 403, "not-allowed"),
    (UnknownGroup, 422, "unknown-group"),
    (NotFound, 404, "not-found"),
    (InvalidValue, 422, "invalid-value"),
    (InputRejected, 422, "input-rejected"),
    (RecognitionPaused, 429, "recognition-paused"),
    (StoreError, 503, "database-unavailable"),
    # A file or setting of the server's own that it may not use (say, a token signing
    # key file other accounts may read): nothing the client can change.
    (ConfigurationError, 503, "server-misconfigured"),
)
SERVER_ERROR = "unexpected failure; the server log has the details under this request id"


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
    detail = str(error)
    if status >= 500:
        # The server's own trouble: its message may name files, sockets or the
        # database's address, which are for the log, not for a client.
        # The id in the line itself too: the console's format shows no extra fields.
        request_id = CURRENT_REQUEST_ID.get()
        log.error(
            "request %s: %s on %s: %s",
            request_id,
            type(error).__name__,
            instance,
            error,
            extra={"request_id": request_id},
        )
        detail = _server_side(error, retry)
    return problem_response(
        status, code, detail, instance=instance, retry_after_s=retry, extra=extra
    )


def _server_side(error: KioskError, retry_after_s: float | None) -> str:
    """What a client is told of a failure of the server's own: one line, no path, no
    address; the request id (in the answer) finds the full message in the log."""
    later = f"try again in {math.ceil(retry_after_s)} s" if retry_after_s else "try again later"
    if isinstance(error, StoreUnresponsive):
        return f"the database gave no answer in time (database.query_deadline_s); {later}"
    if isinstance(error, StoreBusy):
        return f"the database is busy; {later}"
    if isinstance(error, StoreError):
        return f"the database cannot be reached; {later}"
    if isinstance(error, ConfigurationError):
        return (
            "the server is misconfigured (a setting or one of its files); an administrator "
            "finds the fix in the server log under this request id"
        )
    return SERVER_ERROR


UNREADABLE_BODY = (
    "the request body could not be read: send photos and form fields as "
    "multipart/form-data (curl -F name=... -F photos=@face.jpg), JSON bodies as "
    "application/json (see /openapi.json)"
)


def _invalid(error: Mapping[str, Any]) -> str:
    """One validation error as ``where: what``, in our words where the framework's
    would name its own classes."""
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    if "UploadFile" in message:
        message = "must be a file part (curl -F FIELD=@photo.jpg), not a text field"
    elif error.get("type") == "json_invalid":
        message = "the body is not valid JSON"
    return f"{where}: {message}"


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
        problems = [_invalid(e) for e in error.errors()[:5]]
        return problem_response(
            422,
            "invalid-request",
            "the request is not valid: " + "; ".join(problems) + " (see /openapi.json)",
            instance=request.url.path,
        )

    async def on_http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        code = {404: "no-such-route", 405: "method-not-allowed"}.get(error.status_code, "http")
        detail = str(error.detail)
        if error.status_code == 400:
            # The framework's words for a body it could not parse (a multipart form
            # without its boundary, a cut part...): ours instead, naming the fix.
            code, detail = "unreadable-body", UNREADABLE_BODY
        return problem_response(error.status_code, code, detail, instance=request.url.path)

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        request_id = CURRENT_REQUEST_ID.get()
        log.error(
            "request %s: unexpected %s on %s",
            request_id,
            type(error).__name__,
            request.url.path,
            exc_info=error,
            extra={"request_id": request_id},
        )
        return problem_response(500, "server-error", SERVER_ERROR, instance=request.url.path)

    app.add_exception_handler(KioskError, on_kiosk_error)
    app.add_exception_handler(ApiProblem, on_api_problem)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
