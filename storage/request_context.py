"""The HTTP request an audit event was written for (kiosk-server's X-Request-ID).

Set by the API for the duration of a request, on the thread that serves it;
``storage.audit_log`` adds it to the details of every event appended meanwhile, so
an audit event leads to the request's line in the server's JSON log and back.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

CURRENT_REQUEST_ID: ContextVar[str | None] = ContextVar("kiosk_request_id", default=None)


def with_request_id(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` with ``request_id`` when an HTTP request is being served."""
    request_id = CURRENT_REQUEST_ID.get()
    if request_id is None or "request_id" in details:
        return details
    return {**details, "request_id": request_id}
