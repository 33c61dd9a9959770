"""The ``[bulk_import]`` section: the limits of ``kiosk-admin import`` and its worker
pool. Apart from core.settings only to keep that module short; it is one of its
sections.
"""

from __future__ import annotations

from pydantic import Field

from core.settings_base import Section

# The most rows any site may allow: a file past it is refused whatever is set, so a
# million-row file never reaches the parser's memory.
MAX_ROWS_CEILING = 500_000


class ImportSettings(Section):
    """How large a people file ``kiosk-admin import`` reads, and how it uses the cores."""

    max_file_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="Largest people file (CSV) read; a larger one is refused before parsing.",
    )
    max_rows: int = Field(
        100_000,
        ge=1,
        le=MAX_ROWS_CEILING,
        description="Most people in one file; a longer file is refused whole.",
    )
    max_cell_chars: int = Field(
        1000,
        ge=64,
        le=100_000,
        description="Longest cell, in characters; a file with a longer one is refused whole.",
    )
    workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Rows whose photos are decoded, detected and embedded at once; 0: one "
        "per core this process may use. More than the cores is cut to the cores.",
    )
    rows_ahead_per_worker: int = Field(
        2,
        ge=1,
        le=64,
        description="Rows prepared ahead of the database writes, per worker: enough to keep "
        "every worker busy while a row is stored, few enough to bound memory.",
    )
