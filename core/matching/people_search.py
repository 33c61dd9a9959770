"""The 1:N search: a quick look through the index, a thorough one when it finds no match.

HNSW is approximate. With a small ``ef_search`` it sometimes misses the enrolled
person, and then it answers with the strangers it did reach, far below the
threshold (in the benchmark, every such miss at 100,000 templates scored
0.22-0.31 against a threshold of 0.40). A quick search's match therefore stands,
and anything else is searched again with the full ``ef_search``: most faces at a
door belong to enrolled people, who then cost the quick search alone. The second
search cannot take a match away: for the quick one to match the wrong person, it
must miss the enrolled person and yet find someone else above the threshold, a
look-alike whom any search finds next to them. The benchmark's decisions agree
with exact search's as often as those of one search at the full ``ef_search``.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.faces import Embedding
from core.match_settings import MatchSettings
from core.matching.match_rule import MatchDecision, decide
from core.records import MAX_TEMPLATES_PER_PERSON, Candidate
from core.store import IdentityStore


@dataclass(frozen=True)
class PeopleFound:
    """What one 1:N search found: the people it returned (one Candidate each, nearest
    first as the store gives them) and the match rule's decision on them, made once."""

    candidates: tuple[Candidate, ...]
    decision: MatchDecision


def search_people(
    store: IdentityStore, embedding: Embedding, model: str, settings: MatchSettings
) -> PeopleFound:
    """The quick search's people and decision if they make a match, else the thorough
    search's. Raises StoreError (StoreBusy when the database is slow).

    A match with no runner-up is looked at again past MAX_TEMPLATES_PER_PERSON more
    templates: one person's own templates can fill every candidate and hide a
    look-alike, whom the margin must see."""
    found = store.nearest_people(embedding, model, settings.candidates, settings.quick_ef_search)
    decision = decide(found, settings)
    if settings.quick_ef_search < settings.ef_search and decision.matched is None:
        found = store.nearest_people(embedding, model, settings.candidates, settings.ef_search)
        decision = decide(found, settings)
    if len(found) == 1 and decision.matched is not None:
        wider = settings.candidates + MAX_TEMPLATES_PER_PERSON
        found = store.nearest_people(embedding, model, wider, max(settings.ef_search, wider))
        decision = decide(found, settings)
    return PeopleFound(tuple(found), decision)
