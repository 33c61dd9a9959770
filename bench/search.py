"""1:N search at gallery sizes N, four ways, against the same queries.

(a) naive: fetch every template into Python and scan, as the original did;
(b) exact: PostgreSQL computes every distance (no index);
(c) HNSW over ``vector(512)``; (d) HNSW over ``halfvec(512)``.
(c) and (d) run the kiosk's own query (``SqlIdentityStore.nearest_people``) at each
ef_search; on the kiosk's index, one more row runs its whole search: quick, then
thorough when the quick one finds no match (``core.matching.people_search``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench import synthetic
from bench.database import MODEL, IndexBuild, bench_database, build_index, load_gallery
from bench.stats import Latency, summarize
from core.match_settings import MatchSettings
from core.matching.match_rule import MatchDecision, decide
from core.matching.people_search import search_people
from core.records import Candidate
from storage.identity_store import SqlIdentityStore, nearest_people_query
from storage.vector_index import DEFAULT_INDEX, HnswParameters, Precision, drop_hnsw_indexes

Search = Callable[[np.ndarray], list[Candidate]]


@dataclass(frozen=True)
class MethodResult:
    method: str
    size: int
    ef_search: int | None
    genuine: Latency
    impostor: Latency
    recall_at_1: float
    """Genuine queries whose best person is exact search's best person."""
    impostor_recall_at_1: float
    decisions_agree: float
    """Match decisions (match whom, or no match) equal to exact search's, all queries."""


@dataclass
class SizeResult:
    size: int
    load_seconds: float
    builds: list[IndexBuild] = field(default_factory=list)
    methods: list[MethodResult] = field(default_factory=list)


@dataclass(frozen=True)
class SearchPlan:
    sizes: Sequence[int]
    indexes: Sequence[HnswParameters]
    ef_search: Sequence[int]
    genuine_queries: int
    impostor_queries: int
    naive_budget: int
    """Templates the naive scan may fetch in all, per size: it is slow by design."""
    generator: str
    matching: MatchSettings


def run(folder: Path, plan: SearchPlan, progress: Callable[[str], None]) -> list[SizeResult]:
    results = []
    with bench_database(folder) as engine:
        for size in plan.sizes:
            results.append(_run_size(engine, size, plan, progress))
    return results


def _run_size(
    engine: Engine, size: int, plan: SearchPlan, progress: Callable[[str], None]
) -> SizeResult:
    templates = synthetic.gallery(size, plan.generator)
    asked = synthetic.queries(
        templates, plan.genuine_queries, plan.impostor_queries, plan.generator
    )
    progress(f"search: loading {size:,} synthetic templates")
    started = time.perf_counter()
    people = load_gallery(engine, templates)
    result = SizeResult(size, time.perf_counter() - started)
    sessions = sessionmaker(engine)

    progress(f"search: exact scan in PostgreSQL at {size:,}")
    exact = _measure(
        "exact (PostgreSQL, no index)",
        size,
        None,
        _exact_search(sessions, plan),
        asked,
        None,
        plan.matching,
    )
    result.methods.append(exact.result)
    truth = exact.answers

    naive_count = max(3, min(plan.genuine_queries, plan.naive_budget // size))
    progress(f"search: naive scan in Python at {size:,} ({naive_count} queries)")
    result.methods.append(
        _measure(
            "naive (fetch all, scan in Python)",
            size,
            None,
            _naive_search(sessions, people),
            asked,
            truth,
            plan.matching,
            limit=naive_count,
        ).result
    )

    for parameters in plan.indexes:
        progress(f"search: building HNSW {parameters.label()} at {size:,}")
        with engine.begin() as connection:
            drop_hnsw_indexes(connection)
        result.builds.append(build_index(engine, parameters))
        store = SqlIdentityStore(engine, parameters.precision)
        for ef in plan.ef_search:
            search = _hnsw_search(store, plan.matching.candidates, ef)
            result.methods.append(
                _measure(
                    f"HNSW {parameters.label()}", size, ef, search, asked, truth, plan.matching
                ).result
            )
        if parameters == DEFAULT_INDEX:
            m = plan.matching
            result.methods.append(
                _measure(
                    f"kiosk search: HNSW {parameters.label()}, ef_search {m.quick_ef_search} "
                    f"then {m.ef_search} if no match",
                    size,
                    None,
                    _kiosk_search(store, m),
                    asked,
                    truth,
                    m,
                ).result
            )
    return result


@dataclass(frozen=True)
class _Measured:
    result: MethodResult
    answers: list[list[Candidate]]


def _measure(
    method: str,
    size: int,
    ef_search: int | None,
    search: Search,
    asked: synthetic.Queries,
    truth: list[list[Candidate]] | None,
    matching: MatchSettings,
    limit: int | None = None,
) -> _Measured:
    genuine = asked.genuine[:limit]
    impostor = asked.impostor[: (None if limit is None else max(1, limit // 4))]
    search(genuine[0])  # the first query warms the connection and caches
    answers, genuine_ms = _timed(search, genuine)
    impostor_answers, impostor_ms = _timed(search, impostor)
    if truth is None:
        truth = answers + [[] for _ in range(len(asked.genuine) - len(answers))] + impostor_answers
    expected_genuine = truth[: len(genuine)]
    expected_impostor = truth[len(asked.genuine) : len(asked.genuine) + len(impostor)]
    decisions = [
        _same_decision(decide(got, matching), decide(want, matching))
        for got, want in zip(
            answers + impostor_answers, expected_genuine + expected_impostor, strict=True
        )
    ]
    result = MethodResult(
        method=method,
        size=size,
        ef_search=ef_search,
        genuine=summarize(genuine_ms),
        impostor=summarize(impostor_ms),
        recall_at_1=_top1_agreement(answers, expected_genuine),
        impostor_recall_at_1=_top1_agreement(impostor_answers, expected_impostor),
        decisions_agree=float(np.mean(decisions)),
    )
    return _Measured(result, answers + impostor_answers)


def _timed(search: Search, queries: np.ndarray) -> tuple[list[list[Candidate]], list[float]]:
    answers, latencies = [], []
    for query in queries:
        started = time.perf_counter()
        answers.append(search(query))
        latencies.append((time.perf_counter() - started) * 1000)
    return answers, latencies


def _top1_agreement(got: list[list[Candidate]], want: list[list[Candidate]]) -> float:
    if not got:
        return float("nan")
    same = [bool(g and w and _best(g) == _best(w)) for g, w in zip(got, want, strict=True)]
    return float(np.mean(same))


def _best(candidates: list[Candidate]) -> uuid.UUID:
    return max(candidates, key=lambda c: c.similarity).person_id


def _same_decision(got: MatchDecision, want: MatchDecision) -> bool:
    got_id = got.matched.person_id if got.matched else None
    want_id = want.matched.person_id if want.matched else None
    return got_id == want_id


def _hnsw_search(store: SqlIdentityStore, candidates: int, ef_search: int) -> Search:
    def search(query: np.ndarray) -> list[Candidate]:
        return store.nearest_people(query, MODEL, candidates, ef_search)

    return search


def _kiosk_search(store: SqlIdentityStore, matching: MatchSettings) -> Search:
    def search(query: np.ndarray) -> list[Candidate]:
        return list(search_people(store, query, MODEL, matching).candidates)

    return search


def _exact_search(sessions: sessionmaker[Session], plan: SearchPlan) -> Search:
    def search(query: np.ndarray) -> list[Candidate]:
        with sessions.begin() as session:
            # Without index scans, PostgreSQL computes the distance to every template.
            session.execute(select(func.set_config("enable_indexscan", "off", True)))
            rows = session.execute(
                nearest_people_query(Precision.SINGLE),
                {"query": query, "model": MODEL, "candidates": plan.matching.candidates},
            ).all()
        return [Candidate(pid, name or "", 1.0 - float(d)) for pid, name, d in rows]

    return search


def _naive_search(sessions: sessionmaker[Session], people: list[uuid.UUID]) -> Search:
    """The original project's search: every template over the wire, every query."""

    def search(query: np.ndarray) -> list[Candidate]:
        with sessions.begin() as session:
            rows = session.execute(
                text("SELECT person_id, embedding FROM face_templates WHERE model = :model"),
                {"model": MODEL},
            ).all()
        owners = [row[0] for row in rows]
        matrix = np.stack([np.asarray(_vector(row[1]), dtype=np.float32) for row in rows])
        scores = matrix @ query
        best = int(np.argmax(scores))
        return [Candidate(owners[best], "", float(scores[best]))]

    return search


def _vector(value: Any) -> np.ndarray:
    # Without the pgvector type registered, psycopg hands back the text form.
    if isinstance(value, str):
        return np.array(value.strip("[]").split(","), dtype=np.float32)
    return np.asarray(value.to_numpy(), dtype=np.float32)  # pgvector.Vector
