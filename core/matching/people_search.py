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

from core.faces import Embedding
from core.match_settings import MatchSettings
from core.matching.match_rule import decide
from core.records import MAX_TEMPLATES_PER_PERSON, Candidate
from core.store import IdentityStore


def search_people(
    store: IdentityStore, embedding: Embedding, model: str, settings: MatchSettings
) -> list[Candidate]:
    """The quick search's people if they make a match, else the thorough search's.

    A match with no runner-up is looked at again past MAX_TEMPLATES_PER_PERSON more
    templates: one person's own templates can fill every candidate and hide a
    look-alike, whom the margin must see."""
    found = store.nearest_people(embedding, model, settings.candidates, settings.quick_ef_search)
    if settings.quick_ef_search < settings.ef_search and decide(found, settings).matched is None:
        found = store.nearest_people(embedding, model, settings.candidates, settings.ef_search)
    if len(found) == 1 and decide(found, settings).matched is not None:
        wider = settings.candidates + MAX_TEMPLATES_PER_PERSON
        found = store.nearest_people(embedding, model, wider, max(settings.ef_search, wider))
    return found
