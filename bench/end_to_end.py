"""Camera frame to decision through the kiosk itself.

Runs the real ``KioskWindow`` (offscreen) in a fresh process, on an image
folder as its camera: Yao Ming's photo for two seconds, then an empty doorway
for one, over and over, against a gallery of synthetic people plus him. Each
frame's outcome comes from the recognition thread's observer hook. Another
process makes the gallery and the folder first, so the kiosk's resident
memory is its own.

The kiosk drives a door: a Modbus-TCP module played by pymodbus's own server in
the measuring process (door_io.modbus_module), so each grant's time to the lock
coil being acknowledged is measured too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.stats import Latency, summarize

PRESENT_S = 2.0
ABSENT_S = 1.0
WARM_UP_S = 2.0
# The window at the size of a door's full-HD screen: painting the preview costs by the pixel.
SCREEN = (1920, 1080)
# Shorter than the doorway's empty second: each grant's unlock is a write of its own.
DOOR_UNLOCK_S = 0.5
# A grant's outcome and its unlock write are this close, or they are not the same visit.
_DOOR_MATCH_S = 1.0


@dataclass(frozen=True)
class EndToEndResult:
    camera_fps: float
    gallery_size: int
    seconds: float
    frames_processed: int
    frames_dropped: int
    processed_fps: float
    searched_frame: Latency
    """Frame taken from the camera to its outcome, on frames that were searched."""
    any_frame: Latency
    """The same over every frame, most of them only detected (decided or empty)."""
    detect_share: float
    embed_share: float
    search_share: float
    record_share: float
    decisions: int
    granted: int
    decision_latency: Latency
    """From a face's first frame to its decision (needs several agreeing frames)."""
    door_latency: Latency
    """From a face's first frame to the Modbus module acknowledging the unlock."""
    resident_mb: float
    peak_resident_mb: float
    screen: tuple[int, int] = SCREEN


def run(gallery_size: int, seconds: float, camera_fps: float) -> EndToEndResult:
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as folder:
        request = {
            "folder": folder,
            "gallery": gallery_size,
            "seconds": seconds,
            "fps": camera_fps,
        }
        # The gallery is made in a process of its own, so the kiosk's memory is its own.
        _child("prepare", request, 1800)
        row = json.loads(_child("measure", request, seconds + 600).strip().splitlines()[-1])
    for key in ("searched_frame", "any_frame", "decision_latency", "door_latency"):
        row[key] = Latency(**row[key])
    return EndToEndResult(**row)


def _child(stage: str, request: dict[str, Any], timeout: float) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.end_to_end", stage, json.dumps(request)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    if done.returncode != 0:
        raise RuntimeError(f"end-to-end {stage} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _prepare(data: Path, camera: Path, gallery_size: int, fps: float) -> None:
    """An admin, Yao Ming enrolled among ``gallery_size`` synthetic people, and the
    camera folder."""
    import cv2
    from sqlalchemy import text

    from bench import synthetic
    from bench.database import load_gallery, restore_default_index
    from bench.photos import door_frame, empty_frame
    from core.accounts.operators import Authenticator
    from core.enrollment.consent import current_consent
    from core.enrollment.enrollment import EnrollmentService
    from core.inference.insightface_backend import load_engine
    from core.settings import Settings
    from storage.store import open_store

    settings = Settings(kiosk_id="bench")
    engine = load_engine(settings)
    with open_store(data, None) as store:
        load_gallery(
            store.engine, synthetic.gallery(gallery_size, "face-like"), engine.template_model
        )
        restore_default_index(store.engine)
        admin = Authenticator(store.operators, settings.security, "bench").create_first_admin(
            "bench-admin", "a long benchmark passphrase 7"
        )
        enrollment = EnrollmentService(engine, store.identity, settings.matching)
        enrollment.enroll(admin, "Yao Ming", None, [("yao", door_frame())], current_consent(), True)
        # As on a kiosk that has run a while: autovacuum must not visit the fresh
        # table (and its index) in the middle of the measurement.
        with store.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM (ANALYZE) people, face_templates")
            )
    camera.mkdir()
    present, absent = door_frame(), empty_frame()
    frames = [present] * round(PRESENT_S * fps) + [absent] * round(ABSENT_S * fps)
    for number, frame in enumerate(frames):
        cv2.imwrite(str(camera / f"{number:04d}.png"), frame)


def _folders(request: dict[str, Any]) -> tuple[Path, Path]:
    """The kiosk's data folder and its camera folder, inside the run's folder."""
    folder = Path(request["folder"])
    return folder / "data", folder / "camera"


def _measure(request: dict[str, Any]) -> dict[str, Any]:
    from kiosk.qt_environment import undo_opencv_qt_paths

    undo_opencv_qt_paths()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from bench.memory import resident_mb
    from config.environment import Location
    from core.access.door import FrameOutcome
    from core.door_io_settings import DoorAdapter, DoorIoSettings
    from core.settings import Settings
    from door_io.modbus_module import ModbusModule
    from kiosk.app import KioskWindow

    data, camera = _folders(request)
    module = ModbusModule()
    module.start()
    door = DoorIoSettings(
        adapter=DoorAdapter.MODBUS,
        modbus_host="127.0.0.1",
        modbus_port=module.port,
        unlock_s=DOOR_UNLOCK_S,
    )
    app = QApplication([])
    window = KioskWindow(
        Settings(kiosk_id="bench", door_io=door), Location(data, None), str(camera), request["fps"]
    )
    seen: list[tuple[float, FrameOutcome, float]] = []

    def observe(outcome: FrameOutcome, waited_ms: float) -> None:
        seen.append((time.perf_counter(), outcome, waited_ms))

    window.controller.frame_observer = observe
    window.resize(*SCREEN)
    window.show()
    window.controller.start()
    deadline = time.perf_counter() + 300
    while not seen and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)
    if not seen:
        raise RuntimeError("the kiosk processed no frame within 5 minutes")
    marks: dict[str, float] = {}

    def begin_measuring() -> None:
        marks["start"] = time.perf_counter()
        marks["dropped"] = window.controller.latest.dropped

    QTimer.singleShot(int(WARM_UP_S * 1000), begin_measuring)
    QTimer.singleShot(int((WARM_UP_S + request["seconds"]) * 1000), app.quit)
    app.exec()
    ended = time.perf_counter()
    dropped = window.controller.latest.dropped - int(marks["dropped"])
    rss, peak = resident_mb(), resident_mb("VmHWM")
    window.close()
    app.processEvents()
    module.close()
    started = marks["start"]
    measured = [entry for entry in seen if entry[0] >= started]
    unlocks = [at for (_, on), at in zip(module.coil_writes, module.write_times, strict=True) if on]
    summary = _summary(request, measured, ended - started, dropped, rss, peak)
    summary["door_latency"] = _door_latency(measured, unlocks).as_dict()
    return summary


def _door_latency(seen: list[tuple[float, Any, float]], unlocks: list[float]) -> Latency:
    """Each grant's first frame to the module taking its unlock: the decision's own
    latency plus the time from its outcome to the acknowledged write (the write may
    even come first: the door's lane runs beside the recognition thread)."""
    spans = []
    for observed, outcome, _ in seen:
        decision = outcome.decision
        if decision is None or not decision.granted:
            continue
        near = [at for at in unlocks if -_DOOR_MATCH_S < at - observed < _DOOR_MATCH_S]
        if near:
            spans.append(decision.latency_ms + (near[0] - observed) * 1000)
    return summarize(spans)


def _summary(
    request: dict[str, Any],
    seen: list[tuple[float, Any, float]],
    seconds: float,
    dropped: int,
    rss: float,
    peak: float,
) -> dict[str, Any]:
    searched = [(o, w) for _, o, w in seen if o.searched]
    stage_totals = (
        np.array(
            [
                [o.timings.detect_ms, o.timings.embed_ms, o.timings.search_ms, o.timings.record_ms]
                for o, _ in searched
            ]
        )
        if searched
        else np.zeros((1, 4))
    )
    shares = stage_totals.sum(axis=0) / max(stage_totals.sum(), 1e-9)
    decisions = [o.decision for _, o, _ in seen if o.decision is not None]
    return {
        "camera_fps": request["fps"],
        "gallery_size": request["gallery"],
        "seconds": seconds,
        "frames_processed": len(seen),
        "frames_dropped": dropped,
        "processed_fps": len(seen) / seconds,
        "searched_frame": summarize([w + o.timings.total_ms for o, w in searched]).as_dict(),
        "any_frame": summarize([w + o.timings.total_ms for _, o, w in seen]).as_dict(),
        "detect_share": float(shares[0]),
        "embed_share": float(shares[1]),
        "search_share": float(shares[2]),
        "record_share": float(shares[3]),
        "decisions": len(decisions),
        "granted": sum(1 for d in decisions if d.granted),
        "decision_latency": summarize([d.latency_ms for d in decisions]).as_dict(),
        "resident_mb": rss,
        "peak_resident_mb": peak,
    }


if __name__ == "__main__":
    stage, arguments = sys.argv[1], json.loads(sys.argv[2])
    if stage == "prepare":
        _prepare(*_folders(arguments), arguments["gallery"], arguments["fps"])
    else:
        print(json.dumps(_measure(arguments)))  # noqa: T201 - the parent reads it
