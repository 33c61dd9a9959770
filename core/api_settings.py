"""The ``[api]`` section: the limits of ``kiosk-server``, the HTTP API. Apart from
core.settings only to keep that module short; it is one of its sections.
"""

from __future__ import annotations

from pydantic import Field

from core.settings_base import Section

MEBIBYTE = 1024 * 1024


class ApiSettings(Section):
    """How long tokens live, how much a request may carry and how much work the
    server takes on at once before it answers 429 or 503."""

    access_token_minutes: int = Field(
        15,
        ge=1,
        le=24 * 60,
        description="Lifetime of an access token from POST /token; a retired signing key "
        "is still accepted for this long after a rotation.",
    )
    api_key_max_days: int = Field(
        366,
        ge=1,
        le=3660,
        description="Longest expiry an admin may give an API key, in days.",
    )
    max_body_bytes: int = Field(
        25 * MEBIBYTE,
        ge=64 * 1024,
        le=1024**3,
        description="Largest request body; a larger one is refused with 413 as soon as "
        "its size is known, before it is read whole.",
    )
    inference_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Requests whose faces are detected and embedded at once (each runs "
        "onnxruntime on models.intra_op_threads cores).",
    )
    inference_queue: int = Field(
        2,
        ge=0,
        le=1000,
        description="Requests waiting for an inference worker; one more is answered 429 "
        "with Retry-After instead of queueing without bound.",
    )
    busy_retry_after_s: int = Field(
        2,
        ge=1,
        le=600,
        description="Retry-After of a 429 from a full inference pool and of a 503 when "
        "the database is busy.",
    )
    rate_per_minute: int = Field(
        600,
        ge=1,
        le=1_000_000,
        description="Requests per minute one client may make to one route (a token "
        "bucket per client address and route).",
    )
    rate_burst: int = Field(
        60,
        ge=1,
        le=100_000,
        description="Requests one client may make to one route at once before the "
        "per-minute rate applies.",
    )
    token_rate_per_minute: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Logins per minute one client may try at POST /token (the login "
        "throttle per username applies as well).",
    )
    rate_limited_clients: int = Field(
        10_000,
        ge=100,
        le=10_000_000,
        description="Clients whose rate buckets are kept; the least recently seen are "
        "forgotten first.",
    )
    max_list_items: int = Field(
        1000,
        ge=1,
        le=10_000,
        description="Most items one page of GET /people, /audit or /access-events holds.",
    )
