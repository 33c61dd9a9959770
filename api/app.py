"""The FastAPI application over ApiServices: routes, limits, problem details."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from api import routes_doors, routes_logs, routes_people, routes_recognition, routes_service
from api.limits import InferencePool, RateLimiter
from api.metrics import ApiMetrics
from api.middleware import RequestLayer
from api.nul_text import refuse_nul_text
from api.problems import add_problem_handlers
from api.services import ApiServices
from api.uploads import keep_uploads_in_memory

DESCRIPTION = """The face-recognition kiosk's HTTP API: the same people, permissions,
consent rules, quality gates, throttles and audit events as the kiosk and kiosk-admin.

Authenticate with `POST /token` (an operator's username and password) and send
`Authorization: Bearer TOKEN`, or send an API key made by an admin as `X-API-Key`.
Errors are RFC 9457 problem details; every answer carries `X-Request-ID`.
This document is served at /openapi.json, and as pages at /docs (Swagger UI) and /redoc.
"""


DOCS_ASSETS = "/docs-assets"
"""Where the /docs and /redoc pages' scripts and styles are served from."""


def create_app(services: ApiServices) -> FastAPI:
    """The app; ``services`` stay open for its life (the caller closes them)."""
    limits = services.settings.api
    keep_uploads_in_memory(limits.max_body_bytes)
    # FastAPI's own /docs and /redoc pages load their scripts from a CDN; nothing here
    # downloads anything, so fastapi-offline serves the same pages from files it ships.
    app: FastAPI = FastAPIOffline(
        title="face-kiosk API",
        version="1",
        description=DESCRIPTION,
        static_url=DOCS_ASSETS,
        # Swagger UI would otherwise send the document to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
        dependencies=[Depends(refuse_nul_text)],
    )
    metrics = ApiMetrics()
    app.state.services = services
    app.state.metrics = metrics
    app.state.pool = InferencePool(
        limits.inference_workers, limits.inference_queue, limits.busy_retry_after_s, metrics
    )
    app.state.rate_limiter = RateLimiter(
        limits.rate_per_minute, limits.rate_burst, limits.rate_limited_clients
    )
    app.state.login_rate_limiter = RateLimiter(
        limits.token_rate_per_minute,
        max(1, limits.token_rate_per_minute // 2),
        limits.rate_limited_clients,
    )
    for module in (routes_service, routes_people, routes_recognition, routes_logs, routes_doors):
        app.include_router(module.router)
    add_problem_handlers(app, limits.busy_retry_after_s)
    app.add_middleware(RequestLayer, max_body_bytes=limits.max_body_bytes, metrics=metrics)
    return app
