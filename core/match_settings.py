"""The settings of the 1:N decision's rule, and the floors no site may set them below,
with the measurements behind each floor."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic.json_schema import JsonDict

from core.settings_base import Section

# The lowest match threshold any site may set, and its reason. Measured with
# ``kiosk-admin calibrate`` (core/calibration) on buffalo_sc (w600k_mbf@9cc6e4a75f0e) and
# the labelled set cut from the package photos (tests/calibration_dataset.py: 33 people,
# 126 usable images, 7,508 different-person comparisons): different people score 0.068 on
# average (standard deviation 0.088; PERFORMANCE.md's synthetic galleries copy them);
# 1 % of them reach 0.30 (FMR 1e-2, the least strict rate the calibration reports), 2.7 %
# reach 0.25 and 13.7 % reach 0.16, the similarity at which a stranger was let in through a
# threshold of -0.2. Same-person scores there are 0.90 and more; at the door 0.6-0.7.
MIN_MATCH_THRESHOLD = 0.30
THRESHOLD_FLOOR_REASON = (
    "below 0.30 strangers are let in: with buffalo_sc one comparison of two different "
    "people in 100 already reaches 0.30 and one in 7 reaches 0.16 (core/match_settings.py); "
    "measure a higher value for your site with kiosk-admin calibrate"
)
THRESHOLD_REASONS: JsonDict = {"reason_below": THRESHOLD_FLOOR_REASON}
# The least lead over the second-best person. Measured on the same set: one face's
# similarity to another person's template moves by 0.024 (median; sd 0.008) across seven
# looks at it (blur, an 8 degree turn, 80 % scale, JPEG quality 25, darker, brighter), so a
# smaller lead decides between two people by chance.
MIN_MATCH_MARGIN = 0.02
_MARGIN_REASONS: JsonDict = {
    "reason_below": "a lead under 0.02 is smaller than how much one face's similarity "
    "moves between two looks at it, so which of two people matched would be chance",
    "reason_above": "over 0.5 even a clear match (0.6-0.7) fails to lead an average "
    "stranger (0.07), and nobody is let in",
}


class MatchSettings(Section):
    """The 1:N decision's rule (core.matching.match_rule).

    ``threshold`` is at least MIN_MATCH_THRESHOLD and ``margin`` at least
    MIN_MATCH_MARGIN, whatever sets them (kiosk.toml, a KIOSK_* variable, an option,
    the database, kiosk-admin settings or calibrate): the figures behind both floors
    are measured with kiosk-admin calibrate on buffalo_sc and the package photos, and
    written out above their constants in this module."""

    threshold: float = Field(
        0.40,
        ge=MIN_MATCH_THRESHOLD,
        le=1,
        description="Cosine similarity at or above which the best person is a match.",
        json_schema_extra=THRESHOLD_REASONS,
    )
    margin: float = Field(
        0.05,
        ge=MIN_MATCH_MARGIN,
        le=0.5,
        description="Required lead of the best person over the second-best person.",
        json_schema_extra=_MARGIN_REASONS,
    )
    ef_search: int = Field(
        100,
        ge=1,
        le=1000,
        description="pgvector hnsw.ef_search: candidates the index explores when the quick "
        "search found no match.",
    )
    quick_ef_search: int = Field(
        50,
        ge=1,
        le=1000,
        description="hnsw.ef_search of the first, quick search; its match stands, anything "
        "else is searched again with ef_search. Equal to ef_search: one search.",
    )
    candidates: int = Field(
        20,
        ge=2,
        le=1000,
        description="Nearest templates fetched before grouping them by person.",
    )

    @model_validator(mode="after")
    def _quick_search_is_quicker(self) -> MatchSettings:
        if self.quick_ef_search > self.ef_search:
            raise ValueError(
                f"quick_ef_search ({self.quick_ef_search}) must not exceed "
                f"ef_search ({self.ef_search}); lower quick_ef_search or raise ef_search"
            )
        return self
