"""The margin sees a look-alike even when the matched person fills every candidate."""

from __future__ import annotations

import uuid

import numpy as np

from core.match_settings import MatchSettings
from core.matching.match_rule import MatchReason, decide
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
    assert {c.person_id for c in found} == {ANN, BEA}
    assert decide(found, settings).reason is MatchReason.AMBIGUOUS
    assert gallery.asked[-1] == MAX_TEMPLATES_PER_PERSON + settings.candidates


def test_a_clear_match_among_several_people_costs_one_search() -> None:
    gallery = Gallery()
    gallery.templates = [(ANN, 0.70), (BEA, 0.30)]
    found = search_people(gallery, np.zeros(512, np.float32), "m", MatchSettings())  # type: ignore[arg-type]
    assert decide(found, MatchSettings()).matched is not None
    assert len(gallery.asked) == 1
