"""The ASGI layers around every request: its id, its log line, and the body limit.

Plain ASGI rather than Starlette's BaseHTTPMiddleware, so that the body is seen
chunk by chunk as it arrives: a body over the limit is refused when its declared
length is read, or as soon as the bytes received pass the limit, never after it
was read whole.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import ApiMetrics
from api.problems import PROBLEM_JSON, SERVER_ERROR
from storage.request_context import CURRENT_REQUEST_ID

log = logging.getLogger("api.requests")
REQUEST_ID_HEADER = "x-request-id"
# What a given request id may be: a UUID, a proxy's hex id, a ULID... not a log line.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLarge(Exception):
    pass


class RequestLayer:
    """Gives each request an id (X-Request-ID as given when it is well-formed, else a
    new UUID), sets it for the audit log (storage.request_context), sends it back
    on every response, logs one JSON line per request, and refuses a body over
    ``max_body_bytes`` with 413. An exception nothing else handled becomes a 500
    problem naming the request id; its traceback goes to the log only."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, metrics: ApiMetrics) -> None:
        self._app = app
        self._max_body_bytes = max_body_bytes
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = CURRENT_REQUEST_ID.set(request_id)
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "started": False}
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_own(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        async def send_with_id(message: Message) -> None:
            if state.get("too_large"):
                # Whatever the app makes of the cut body (FastAPI answers 400 for a form
                # it could not parse), the answer was this layer's 413.
                return
            await send_own(message)

        try:
            declared = _declared_length(scope)
            if declared is not None and declared > self._max_body_bytes:
                self._metrics.refused("body_too_large")
                await self._send_problem(send_own, 413, "body-too-large", self._too_large())
                return
            received = 0

            async def counted_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self._max_body_bytes:
                        if not state["started"]:
                            await self._send_problem(
                                send_own, 413, "body-too-large", self._too_large()
                            )
                        state["too_large"] = True
                        self._metrics.refused("body_too_large")
                        raise BodyTooLarge()
                return message

            try:
                await self._app(scope, counted_receive, send_with_id)
            except BodyTooLarge:
                pass  # answered with 413 when the limit was passed
            except Exception:
                log.exception(
                    "request %s: unexpected failure serving %s",
                    request_id,
                    scope.get("path"),
                    extra={"request_id": request_id},
                )
                if not state["started"]:
                    await self._send_problem(send_own, 500, "server-error", SERVER_ERROR)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "(no route)"
            self._metrics.observe(scope["method"], template, state["status"], elapsed)
            log.info(
                "%s %s %s",
                scope["method"],
                template,
                state["status"],
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": template,
                    "status": state["status"],
                    "duration_ms": round(elapsed * 1000, 1),
                    "client": (scope.get("client") or ("-",))[0],
                    "actor": scope["state"].get("actor"),
                },
            )
            CURRENT_REQUEST_ID.reset(token)

    def _too_large(self) -> str:
        mebibytes = self._max_body_bytes / (1024 * 1024)
        return (
            f"the request body is larger than {mebibytes:g} MiB (api.max_body_bytes); "
            "send smaller photos, or fewer at once"
        )

    async def _send_problem(self, send: Send, status: int, code: str, detail: str) -> None:
        body = json.dumps(
            {
                "type": f"urn:face-kiosk:problem:{code}",
                "title": code.replace("-", " "),
                "status": status,
                "detail": detail,
                "request_id": CURRENT_REQUEST_ID.get(),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    # The client may still be sending: the connection is not reused.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            given = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(given):
                return given
            break
    return str(uuid.uuid4())


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
