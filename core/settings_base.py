"""The base every settings section shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Unknown keys refused, values frozen, NaN and infinity refused."""

    # NaN fails every comparison, so a NaN threshold would be below nothing: refused.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
