"""K kiosks on one database: separate processes, each with its own connection
pool, sending identify queries (precomputed templates) and writing the access
event of each decision, as fast as the database lets them.

A search that times out, or finds every pooled connection busy, is answered
"busy"; nothing is decided and no event is owed for it. Every decision's
event must be in the database afterwards: the parent counts them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from bench import synthetic
from bench.stats import Latency, summarize

START_DELAY_S = 3.0
MODEL = "bench-kiosks"


@dataclass(frozen=True)
class KiosksResult:
    kiosks: int
    seconds: float
    decisions: int
    per_second: float
    latency: Latency
    """One identify query and its access event."""
    busy: int
    errors: int
    events_expected: int
    events_stored: int


def run(
    engine: Engine, url: str, folder: Path, ramp: list[int], seconds: float, gallery_size: int
) -> list[KiosksResult]:
    from bench.database import load_gallery, restore_default_index

    templates = synthetic.gallery(gallery_size, "face-like")
    load_gallery(engine, templates, MODEL)
    restore_default_index(engine)
    asked = synthetic.queries(templates, 500, 100, "face-like", seed=23)
    queries_file = folder / "kiosk-queries.npy"
    np.save(queries_file, np.concatenate([asked.genuine, asked.impostor]))
    return [_step(engine, url, queries_file, count, seconds) for count in ramp]


def _step(engine: Engine, url: str, queries: Path, count: int, seconds: float) -> KiosksResult:
    from storage import schema

    start_at = time.time() + START_DELAY_S + 0.5 * count
    names = [f"bench-{count}-{number}" for number in range(count)]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.kiosks",
                json.dumps(
                    {
                        "url": url,
                        "kiosk": name,
                        "queries": str(queries),
                        "start_at": start_at,
                        "seconds": seconds,
                    }
                ),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    rows = []
    for child in children:
        out, err = child.communicate(timeout=seconds + 300)
        if child.returncode != 0:
            raise RuntimeError(f"a simulated kiosk failed:\n{err[-2000:]}")
        rows.append(json.loads(out.strip().splitlines()[-1]))
    with engine.connect() as connection:
        stored = connection.scalar(
            select(func.count())
            .select_from(schema.AccessEvent)
            .where(schema.AccessEvent.kiosk_id.in_(names))
        )
    latencies = [value for row in rows for value in row["latencies_ms"]]
    decisions = sum(row["decisions"] for row in rows)
    return KiosksResult(
        kiosks=count,
        seconds=seconds,
        decisions=decisions,
        per_second=decisions / seconds,
        latency=summarize(latencies),
        busy=sum(row["busy"] for row in rows),
        errors=sum(row["errors"] for row in rows),
        events_expected=sum(row["events_written"] for row in rows),
        events_stored=int(stored or 0),
    )


def _kiosk(request: dict[str, Any]) -> dict[str, Any]:
    """One simulated kiosk: the same store calls the door makes, in a loop."""
    from core.errors import StoreBusy, StoreError
    from core.match_settings import MatchSettings
    from core.matching.people_search import search_people
    from core.records import AccessOutcome, access_decision
    from storage.database import connect
    from storage.identity_store import SqlIdentityStore

    queries = np.load(request["queries"])
    engine = connect(request["url"])
    store = SqlIdentityStore(engine)
    matching = MatchSettings()
    search_people(store, queries[0], MODEL, matching)  # warm
    time.sleep(max(0.0, request["start_at"] - time.time()))
    latencies, busy, errors, written = [], 0, 0, 0
    rng = np.random.default_rng(abs(hash(request["kiosk"])) % 2**32)
    ends = time.perf_counter() + request["seconds"]
    while time.perf_counter() < ends:
        query = queries[rng.integers(len(queries))]
        started = time.perf_counter()
        try:
            decision = search_people(store, query, MODEL, matching).decision
        except StoreBusy:
            busy += 1
            continue
        except StoreError:
            errors += 1
            continue
        matched = decision.matched
        event = access_decision(
            kiosk_id=request["kiosk"],
            outcome=AccessOutcome.GRANTED if matched else AccessOutcome.UNKNOWN,
            latency_ms=(time.perf_counter() - started) * 1000,
            match=matched,
            similarity=decision.best.similarity if decision.best else None,
        )
        try:
            store.record_access(event)
        except StoreError:
            errors += 1
            continue
        written += 1
        latencies.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return {
        "decisions": written,
        "latencies_ms": latencies,
        "busy": busy,
        "errors": errors,
        "events_written": written,
    }


if __name__ == "__main__":
    print(json.dumps(_kiosk(json.loads(sys.argv[1]))))  # noqa: T201 - the parent reads it
