"""The Markdown report and its JSON twin."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from bench.end_to_end import EndToEndResult
from bench.inference import InferenceResult
from bench.kiosks import KiosksResult
from bench.liveness import LivenessRow
from bench.people_import import ImportResult
from bench.retention import RetentionResult
from bench.rules import RulesResult
from bench.search import SizeResult
from bench.stats import Latency


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3f}" if abs(value) < 1 else f"{value:,.1f}"
    return str(value)


def machine_section(machine: dict[str, str], command: str, seconds: float) -> str:
    rows = [[key, value] for key, value in machine.items()]
    return "\n\n".join(
        [
            "## Machine",
            table(["", ""], rows),
            f"Command: `{command}`; the run took {seconds / 60:.1f} minutes.",
        ]
    )


def inference_section(results: list[InferenceResult]) -> str:
    rows = [
        [
            r.pack,
            r.detector_size,
            r.threads,
            "rewritten" if r.prelu_rewritten else "as shipped",
            r.detect.p50_ms,
            r.detect.p95_ms,
            r.embed.p50_ms,
            r.embed.p95_ms,
            r.total.p50_ms,
            r.total.p95_ms,
            r.similarity_to_640,
            ", ".join(f"{n} {c}" for n, c in r.faces_found.items()),
            r.engine_mb,
        ]
        for r in results
    ]
    return "\n\n".join(
        [
            "## Inference per frame",
            "One face in a 640x480 frame (Yao Ming's photo from the package). Detection is SCRFD "
            "at the given input size; embedding includes alignment and the quality measurements. "
            "*Similarity to 640* compares the face's template with the one made at 640: what a "
            "smaller detector input costs in landmark precision. *Faces found* counts detections "
            "in two group photos (6 and 22 faces) at that size. *PReLU rewritten* is how the "
            "kiosk loads models (`models.rewrite_prelu`, see `core/inference/prelu_rewrite.py`); "
            "*as shipped* (not in a quick run) runs the ONNX files unchanged, for comparison. "
            "*Engine MB* is the resident memory the loaded models added to a fresh process.",
            table(
                [
                    "pack",
                    "size",
                    "threads",
                    "PReLU",
                    "detect p50",
                    "detect p95",
                    "embed p50",
                    "embed p95",
                    "total p50",
                    "total p95",
                    "similarity to 640",
                    "faces found",
                    "engine MB",
                ],
                rows,
            ),
            "![inference](inference.png)",
        ]
    )


def search_section(sizes: list[SizeResult], generator: str) -> str:
    parts = [
        "## 1:N search",
        f"Gallery generator: `{generator}` (see `bench/synthetic.py`). Genuine queries are "
        "noisy copies of enrolled templates at similarity 0.60-0.70; impostor queries are "
        "new identities. *Recall@1* is the share of genuine queries whose best person is exact "
        "search's; *decisions agree* compares the match decision (threshold and margin as "
        "configured) with exact search's over all queries. HNSW rows run the kiosk's own query "
        "(`SqlIdentityStore.nearest_people`). Latencies in ms.",
    ]
    for size in sizes:
        rows = [
            [
                m.method,
                m.ef_search or "-",
                m.genuine.count,
                m.genuine.p50_ms,
                m.genuine.p99_ms,
                m.impostor.p50_ms,
                m.impostor.p99_ms,
                m.recall_at_1,
                m.impostor_recall_at_1,
                m.decisions_agree,
            ]
            for m in size.methods
        ]
        builds = [[b.parameters.label(), b.seconds, b.megabytes] for b in size.builds]
        parts += [
            f"### {size.size:,} templates (loaded in {size.load_seconds:.1f} s)",
            table(
                [
                    "method",
                    "ef_search",
                    "queries",
                    "genuine p50",
                    "genuine p99",
                    "impostor p50",
                    "impostor p99",
                    "recall@1",
                    "impostor recall@1",
                    "decisions agree",
                ],
                rows,
            ),
            table(["index", "build s", "size MB"], builds),
        ]
    parts += ["![search latency](search_latency.png)", "![recall](search_recall.png)"]
    return "\n\n".join(parts)


def end_to_end_section(result: EndToEndResult) -> str:
    r = result
    rows: list[list[Any]] = [
        ["frames processed per second", r.processed_fps],
        [
            "frames processed / dropped by the camera slot",
            f"{r.frames_processed} / {r.frames_dropped}",
        ],
        [
            "searched frame: camera to outcome p50 / p95 (ms)",
            f"{r.searched_frame.p50_ms:.1f} / {r.searched_frame.p95_ms:.1f}",
        ],
        [
            "any frame: camera to outcome p50 / p95 (ms)",
            f"{r.any_frame.p50_ms:.1f} / {r.any_frame.p95_ms:.1f}",
        ],
        [
            "share of a searched frame: detection / embedding / search / event",
            f"{r.detect_share:.0%} / {r.embed_share:.0%} / {r.search_share:.0%} / "
            f"{r.record_share:.0%}",
        ],
        ["decisions (granted)", f"{r.decisions} ({r.granted})"],
        [
            "face appears to decision p50 / p95 (ms)",
            f"{r.decision_latency.p50_ms:.0f} / {r.decision_latency.p95_ms:.0f}",
        ],
        [
            "door: face appears to lock acknowledged by the Modbus module p50 / p95 (ms)",
            f"{r.door_latency.p50_ms:.0f} / {r.door_latency.p95_ms:.0f} "
            f"({r.door_latency.count} unlocks)",
        ],
        [
            "kiosk process resident memory now / peak (MB)",
            f"{r.resident_mb:.0f} / {r.peak_resident_mb:.0f}",
        ],
    ]
    return "\n\n".join(
        [
            "## End to end, through the kiosk",
            f"The real kiosk window (offscreen, {r.screen[0]}x{r.screen[1]}) with an image "
            f"folder as its camera at "
            f"{r.camera_fps:.0f} fps: Yao Ming for 2 s, an empty doorway for 1 s, repeated, for "
            f"{r.seconds:.0f} s, against {r.gallery_size:,} synthetic people plus him. "
            "A *searched* frame is detected, embedded and searched; once a face is decided, "
            "its later frames are only detected. The camera to outcome time includes the wait "
            "in the one-frame slot. The kiosk drives a door on a Modbus-TCP module "
            "(pymodbus's server, on this machine): the door row runs from a face's first "
            "frame, with the default frames to confirm, to the module acknowledging the "
            "lock coil's write.",
            table(["", ""], rows),
            "![end to end](end_to_end.png)",
        ]
    )


def kiosks_section(results: list[KiosksResult], gallery_size: int) -> str:
    rows = [
        [
            r.kiosks,
            r.decisions,
            r.per_second,
            r.latency.p50_ms,
            r.latency.p95_ms,
            r.latency.p99_ms,
            r.busy,
            r.errors,
            f"{r.events_stored} of {r.events_expected}",
        ]
        for r in results
    ]
    return "\n\n".join(
        [
            "## Many kiosks, one database",
            f"Each kiosk is a separate process with its own connection pool, searching a gallery "
            f"of {gallery_size:,} face-like templates with precomputed queries and writing one "
            'access event per decision, without pause. *Busy* counts searches answered "busy" '
            "(statement timeout or no free connection). *Events stored* counts the access events "
            "found in the database against the decisions the kiosks made.",
            table(
                [
                    "kiosks",
                    "decisions",
                    "per second",
                    "p50",
                    "p95",
                    "p99",
                    "busy",
                    "errors",
                    "events stored",
                ],
                rows,
            ),
            "![kiosks](kiosks.png)",
        ]
    )


def liveness_section(rows: list[LivenessRow]) -> str:
    """Pass rates of live-like sequences, and how often each synthetic attack passed."""
    body = table(
        ["mode", "sequence", "attempts", "passed", "pass rate"],
        [[r.mode, r.sequence, r.attempts, r.passed, f"{r.pass_rate:.0%}"] for r in rows],
    )
    return "\n\n".join(
        [
            "## Liveness (synthetic sequences from the package photos)",
            "Live sequences are package faces with camera noise whose real 106-point "
            "landmarks get a synthetic blink or head turn when asked: the check's logic is "
            "measured, not real people. Attacks: the same frame repeated (still photo), the "
            "photo rotated, scaled, sheared and shifted frame by frame (moved photo), and a "
            "recording of a passed attempt played to a new attempt (replay). A live "
            "sequence should pass; an attack should not.",
            body,
            "A replay of a real pass beats the challenge whenever the new random challenge "
            "is the one recorded: always for blink alone, about half the time for a turn, a "
            "quarter for both. Neither passive signal sees a recording of a real person; "
            "only a presentation-attack model (or a depth camera) would.",
        ]
    )


def rules_section(found: RulesResult) -> str:
    """What the access rules add to a matched person's decision (issue 12's target)."""
    site = found.site
    rows: list[tuple[str, Latency]] = [
        ("evaluation (pure)", found.evaluation),
        ("read (one round trip)", found.read),
        ("check: read + evaluation (the door's call)", found.check),
    ]
    body = table(
        ["step", "decisions", "p50 ms", "p95 ms", "p99 ms"],
        [
            [name, lat.count, f"{lat.p50_ms:.3f}", f"{lat.p95_ms:.3f}", f"{lat.p99_ms:.3f}"]
            for name, lat in rows
        ],
    )
    verdict = "met" if found.check.p99_ms < 1.0 else "not met"
    return "\n\n".join(
        [
            "## Access rules",
            f"A synthetic site: {site.people:,} people in {site.groups} groups "
            f"({site.memberships:,} memberships) across {site.doors} doors in four time "
            "zones, three holiday calendars, one person in ten with a validity window. "
            "Each decision is a random person at a random door at a random moment of 2026 "
            f"({found.allowed_share:.0%} were allowed). Target: the check adds under 1 ms "
            f"p99 to a matched person's decision: **{verdict}** "
            f"(p99 {found.check.p99_ms:.3f} ms).",
            body,
        ]
    )


def import_section(found: ImportResult) -> str:
    """kiosk-admin import's people per minute (issue 28: 1,000 people, 2 photos each)."""
    body = table(
        ["stage", "people", "workers x threads", "seconds", "people/min", "went in"],
        [
            [
                r.stage,
                f"{r.people:,}",
                f"{r.workers} x {r.threads_per_worker}",
                r.seconds,
                f"{r.per_minute:,.0f}",
                f"{r.went_in:,}",
            ]
            for r in found.rates
        ],
    )
    return "\n\n".join(
        [
            "## Bulk import",
            "`kiosk-admin import` through its own PeopleImport, 2 photos per person. The "
            "write path: synthetic templates, the face step a stand-in, so the database's "
            "share alone (the badges' owners read 500 rows at a time, then one transaction "
            "per person, one at a time: the exact one-face-one-identity check under the "
            "enrollment lock and the writes). The face step: the real models "
            f"on the {found.package_faces} package faces (JPEG files read, decoded, detected, "
            "embedded, gated) on the worker pool. End to end: both at once, the real "
            "templates swapped for synthetic ones so that every row is a new person. "
            f"{found.cores} core(s); PostgreSQL runs on the same machine.",
            body,
        ]
    )


def retention_section(found: RetentionResult) -> str:
    """The retention purge and consent withdrawal at scale (issue 28)."""
    body = table(
        ["call", "people stored", "result", "time"],
        [
            [
                "purge-expired",
                f"{found.people:,}",
                f"{found.purged:,} purged, {found.audit_events:,} audit events, "
                f"{found.batch} per transaction",
                f"{found.purge_s:.1f} s ({found.purged_per_s:,.0f} people/s)",
            ],
            [
                "withdraw-consent (one person)",
                f"{found.people:,}",
                f"{found.withdrawal.count} withdrawals",
                f"p50 {found.withdrawal.p50_ms:.1f} ms, p95 {found.withdrawal.p95_ms:.1f} ms",
            ],
        ],
    )
    return "\n\n".join(
        [
            "## Retention at scale",
            f"A synthetic site of {found.people:,} people, each with consent and in the "
            "default group, three in five past the 3-year retention (one in fifty of those "
            "recognised lately, so kept). The purge deletes in transactions of "
            "`security.purge_batch_people`, each person's deletion an audit event of its own; "
            "a withdrawal is one transaction for one person while the whole site is stored.",
            body,
        ]
    )


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(_plain(results), indent=2) + "\n", encoding="utf-8")


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "value"):
        return value.value
    return value
