"""The quick-then-thorough 1:N search: on a fake store, and on the real embedded PostgreSQL."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from core.faces import Embedding
from core.match_settings import MatchSettings
from core.matching.match_rule import MatchDecision, MatchReason
from core.matching.people_search import search_people
from core.records import Candidate
from storage import schema
from storage.identity_store import SqlIdentityStore

MODEL = "test-model@000000000000"
ANN = Candidate(uuid.uuid4(), "Ann", 0.0)
BO = Candidate(uuid.uuid4(), "Bo", 0.0)


def scored(candidate: Candidate, similarity: float) -> Candidate:
    return Candidate(candidate.person_id, candidate.display_name, similarity)


class ScriptedStore:
    """Answers each ef_search with its own candidates, and notes every search."""

    def __init__(self, answers: dict[int, list[Candidate]]) -> None:
        self.answers = answers
        self.searches: list[int] = []

    def nearest_people(
        self, embedding: Embedding, model: str, candidates: int, ef_search: int
    ) -> list[Candidate]:
        self.searches.append(ef_search)
        return self.answers[ef_search]


class CountingStore:
    """The real store, noting the ef_search of every search."""

    def __init__(self, store: SqlIdentityStore) -> None:
        self.store = store
        self.searches: list[int] = []

    def nearest_people(
        self, embedding: Embedding, model: str, candidates: int, ef_search: int
    ) -> list[Candidate]:
        self.searches.append(ef_search)
        return self.store.nearest_people(embedding, model, candidates, ef_search)


SETTINGS = MatchSettings(quick_ef_search=40, ef_search=100)


def find_person(store: object, query: Embedding, settings: MatchSettings) -> MatchDecision:
    return search_people(store, query, MODEL, settings).decision  # type: ignore[arg-type]


QUERY = np.zeros(512, np.float32)


def test_a_match_in_the_quick_search_stands_without_a_second_search() -> None:
    store = ScriptedStore({40: [scored(ANN, 0.62), scored(BO, 0.10)]})
    decision = find_person(store, QUERY, SETTINGS)
    assert decision.matched is not None
    assert decision.matched.person_id == ANN.person_id
    assert store.searches == [40]


@pytest.mark.parametrize(
    "quick",
    [
        [scored(BO, 0.25)],  # the index missed Ann: only strangers, below the threshold
        [scored(ANN, 0.62), scored(BO, 0.60)],  # ambiguous: a wider look decides
        [],
    ],
)
def test_anything_but_a_match_is_searched_again_thoroughly(quick: list[Candidate]) -> None:
    store = ScriptedStore({40: quick, 100: [scored(ANN, 0.62), scored(BO, 0.25)]})
    decision = find_person(store, QUERY, SETTINGS)
    assert decision.matched is not None
    assert decision.matched.person_id == ANN.person_id
    assert store.searches == [40, 100]


def test_a_stranger_is_unknown_after_both_searches() -> None:
    store = ScriptedStore({40: [scored(BO, 0.2)], 100: [scored(BO, 0.2)]})
    decision = find_person(store, QUERY, SETTINGS)
    assert decision.reason is MatchReason.BELOW_THRESHOLD
    assert store.searches == [40, 100]


def test_equal_ef_search_values_search_once() -> None:
    store = ScriptedStore({100: [scored(BO, 0.2)]})
    settings = MatchSettings(quick_ef_search=100, ef_search=100)
    decision = find_person(store, QUERY, settings)
    assert decision.reason is MatchReason.BELOW_THRESHOLD
    assert store.searches == [100]


def test_a_quick_search_wider_than_the_thorough_one_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"quick_ef_search \(200\) must not exceed"):
        MatchSettings(quick_ef_search=200, ef_search=100)


def test_misses_of_a_narrow_quick_search_are_found_by_the_thorough_one(
    identity_store: SqlIdentityStore, db_engine: Engine
) -> None:
    # Random unit vectors are HNSW's hardest case: at ef_search 2 the index often
    # misses; a thorough search over 1,000 templates does not.
    rng = np.random.default_rng(3)
    gallery = rng.standard_normal((1000, 512)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    with Session(db_engine) as session, session.begin():
        people = [schema.Person(display_name=f"person {i}") for i in range(len(gallery))]
        session.add_all(people)
        session.flush()
        session.add_all(
            schema.FaceTemplate(person_id=p.id, embedding=t, model=MODEL, quality=0.9)
            for p, t in zip(people, gallery, strict=True)
        )
        ids = [p.id for p in people]
    with db_engine.connect() as connection:
        connection.execute(text("ANALYZE face_templates"))
        connection.commit()
    settings = MatchSettings(quick_ef_search=1, ef_search=400, candidates=2)
    store = CountingStore(identity_store)
    quick_misses = 0
    for row in rng.choice(len(gallery), 150, replace=False):
        # A poor second look at the same face: similarity about 0.55 to the template.
        query = gallery[row] + rng.standard_normal(512).astype(np.float32) * 0.067
        query /= np.linalg.norm(query)
        store.searches.clear()
        decision = find_person(store, query, settings)
        assert decision.matched is not None
        assert decision.matched.person_id == ids[row]
        quick_misses += store.searches == [1, 400]
    assert quick_misses > 0, "the quick search never missed; the fallback went untested"
    stranger = rng.standard_normal(512).astype(np.float32)
    store.searches.clear()
    stranger /= np.linalg.norm(stranger)
    decision = find_person(store, stranger, settings)
    assert decision.reason is MatchReason.BELOW_THRESHOLD
    assert store.searches == [1, 400]
