"""The margin sees a look-alike even when the matched person fills every candidate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import pytest

from core.access import identification
from core.match_settings import MatchSettings
from core.matching import people_search
from core.matching.match_rule import MatchDecision, MatchReason, decide
from core.matching.people_search import search_people
from core.records import MAX_TEMPLATES_PER_PERSON, Candidate

ANN = uuid.uuid4()
BEA = uuid.uuid4()


class Gallery:
    """Ann has MAX_TEMPLATES_PER_PERSON templates at 0.60; Bea, a look-alike, one at 0.58.
    Like the real store, the people among the ``candidates`` nearest templates."""

    def __init__(self) -> None:
        self.templates = [(ANN, 0.60)] * MAX_TEMPLATES_PER_PERSON + [(BEA, 0.58)]
        self.asked: list[int] = []

    def nearest_people(
        self, embedding: np.ndarray, model: str, candidates: int, ef_search: int
    ) -> list[Candidate]:
        self.asked.append(candidates)
        best: dict[uuid.UUID, float] = {}
        for person, similarity in self.templates[:candidates]:
            best[person] = max(best.get(person, -1.0), similarity)
        names = {ANN: "Ann", BEA: "Bea"}
        return [Candidate(person, names[person], s) for person, s in best.items()]


def test_a_person_whose_templates_fill_every_candidate_does_not_hide_a_look_alike() -> None:
    settings = MatchSettings(candidates=MAX_TEMPLATES_PER_PERSON)
    gallery = Gallery()
    found = search_people(gallery, np.zeros(512, np.float32), "m", settings)  # type: ignore[arg-type]
    assert {c.person_id for c in found.candidates} == {ANN, BEA}
    assert found.decision.reason is MatchReason.AMBIGUOUS
    assert gallery.asked[-1] == MAX_TEMPLATES_PER_PERSON + settings.candidates


def test_a_clear_match_among_several_people_costs_one_search() -> None:
    gallery = Gallery()
    gallery.templates = [(ANN, 0.70), (BEA, 0.30)]
    found = search_people(gallery, np.zeros(512, np.float32), "m", MatchSettings())  # type: ignore[arg-type]
    assert found.decision.matched is not None
    assert len(gallery.asked) == 1


def test_the_search_decides_once_per_list_it_searched_and_the_door_reuses_that_decision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[MatchDecision] = []

    def counted(found: Sequence[Candidate], settings: MatchSettings) -> MatchDecision:
        made.append(decide(found, settings))
        return made[-1]

    monkeypatch.setattr(people_search, "decide", counted)
    gallery = Gallery()
    gallery.templates = [(ANN, 0.70), (BEA, 0.30)]
    found = search_people(gallery, np.zeros(512, np.float32), "m", MatchSettings())  # type: ignore[arg-type]
    assert made == [found.decision]  # one list searched, one decision, the one returned
    assert found.decision.matched == Candidate(ANN, "Ann", 0.70)
    # Identification hands on the search's decision: it holds no match rule of its own.
    assert not hasattr(identification, "decide")
