"""kiosk-admin health: the database, the models, the camera and the door hardware,
each checked on its own."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from admin.context import CommandContext
from admin.output import Report
from core.errors import KioskError, StoreError
from core.inference.modelpack import resolve_model_pack
from storage.migrate import current_revision, head_revision

EXIT_UNHEALTHY = 1
# The window of embedded-server outages a health report counts, and at most how many.
RECENT_OUTAGES = timedelta(hours=24)
MAX_OUTAGES_READ = 1000


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    summary: str
    data: dict[str, Any]


def health(args: argparse.Namespace, ctx: CommandContext) -> Report:
    checks = [_run("database", lambda: _database(ctx)), _run("models", lambda: _models(ctx))]
    if not args.no_camera:
        checks.append(_run("camera", lambda: _camera(ctx, args.camera)))
    checks.append(_run("door", lambda: _door(ctx)))
    healthy = all(check.ok for check in checks)
    return Report(
        {"healthy": healthy, **{c.name: {"ok": c.ok, **c.data} for c in checks}},
        "\n".join(
            f"{c.name + ':':<10}{'ok    ' if c.ok else 'FAILED'}  {c.summary}" for c in checks
        ),
        exit_code=0 if healthy else EXIT_UNHEALTHY,
    )


def _status(check: Check) -> str:
    return "ok    " if check.ok else "FAILED"


def _run(name: str, check: Callable[[], tuple[str, dict[str, Any]]]) -> Check:
    try:
        summary, data = check()
    except KioskError as error:
        return Check(name, False, str(error), {"error": str(error)})
    return Check(name, True, summary, data)


def _database(ctx: CommandContext) -> tuple[str, dict[str, Any]]:
    store = ctx.store
    revision = current_revision(store.engine)
    enrolled = store.identity.count_people()
    summary = f"{store.location}, schema {revision}, {enrolled} people enrolled"
    data: dict[str, Any] = {
        "store": store.location,
        "schema": revision,
        "schema_current": revision == head_revision(),
        "people": enrolled,
    }
    if store.server is not None:
        server_summary, data["server"] = _embedded_server(ctx)
        summary += f"; {server_summary}"
    return summary, data


def _embedded_server(ctx: CommandContext) -> tuple[str, dict[str, Any]]:
    """The embedded server's safety, and its outages that kiosks audited recently."""
    assert ctx.store.server is not None
    state = ctx.store.server.state()
    if state.pid is None or not state.socket_private or not state.password_required:
        raise StoreError(
            f"the embedded database in {ctx.store.server.pgdata} is not running safely "
            f"(socket folder private: {state.socket_private}, password required: "
            f"{state.password_required}); stop every kiosk and kiosk-admin, then start again"
        )
    since = datetime.now(UTC) - RECENT_OUTAGES
    restarts = ctx.store.audit.server_restarts(since, MAX_OUTAGES_READ)
    summary = f"server PID {state.pid}, outages in the last 24 h: {len(restarts)}"
    last: dict[str, Any] | None = None
    if restarts:
        last = {"at": restarts[0].occurred_at.isoformat(), **restarts[0].details}
        summary += (
            f" (last: down {restarts[0].details.get('down_s')} s, back at "
            f"{restarts[0].occurred_at:%Y-%m-%d %H:%M:%S %Z}, on {restarts[0].target})"
        )
    return summary, {
        "pid": state.pid,
        "socket_dir": str(state.socket_dir),
        "socket_private": state.socket_private,
        "password_required": state.password_required,
        "outages_24h": len(restarts),
        "last_outage": last,
    }


def _models(ctx: CommandContext) -> tuple[str, dict[str, Any]]:
    from core.inference.insightface_backend import load_engine

    pack = resolve_model_pack(ctx.settings.models.pack_dir)
    load_engine(ctx.settings, pack)  # loading the models is the check; the pack is hashed once
    verified = (
        f"verified against {pack.verified_by}"
        if pack.verified_by
        else "NOT verified: add a SHA256SUMS file to pin these files"
    )
    providers = ", ".join(ctx.settings.models.providers)
    return (
        f"{pack.name} in {pack.directory}, {verified}; onnxruntime on {providers}",
        {
            "model_pack": pack.name,
            "model_dir": str(pack.directory),
            "template_model": pack.template_model,
            "models_verified_by": pack.verified_by,
            "providers": list(ctx.settings.models.providers),
        },
    )


def _camera(ctx: CommandContext, given: str | None) -> tuple[str, dict[str, Any]]:
    """``given``: --camera, which may name a video file or a folder like the kiosk's."""
    from frames.sources import CameraLost, command_line_camera, source_from_spec

    camera = ctx.settings.camera
    if given:
        camera = command_line_camera(camera, given)
    spec = camera.source
    source = source_from_spec(camera, ctx.settings.images)
    started = time.monotonic()
    try:
        source.open()
        frame = source.read()
    except CameraLost as error:
        raise _CameraFailed(f"camera {spec!r} gives no frame: {error}") from error
    finally:
        source.close()
    height, width = frame.shape[:2]
    waited_ms = (time.monotonic() - started) * 1000
    return (
        f"{spec!r} gave a {width}x{height} frame in {waited_ms:.0f} ms",
        {"source": spec, "width": width, "height": height, "first_frame_ms": round(waited_ms)},
    )


def _door(ctx: CommandContext) -> tuple[str, dict[str, Any]]:
    """Reads the door hardware's inputs; never drives the lock."""
    from door_io.hardware import open_door_io

    settings = ctx.settings.door_io
    io = open_door_io(settings)
    if io is None:
        return "no door hardware (door_io.adapter = none)", {"adapter": settings.adapter.value}
    try:
        inputs = io.read_inputs()
    finally:
        io.close()
    seen = {
        "lock_output": inputs.lock_output,
        "contact": inputs.contact,
        "exit_button": inputs.exit_button,
    }
    read = ", ".join(
        f"{name} {'on' if on else 'off'}" for name, on in seen.items() if on is not None
    )
    return (
        f"{io.name} answers ({read or 'no inputs wired'}); fail-{settings.fail_mode.value}",
        {"adapter": settings.adapter.value, "name": io.name, **seen},
    )


class _CameraFailed(KioskError):
    pass
