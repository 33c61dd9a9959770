"""kiosk-bench's import section on the real server and models, at a few people a stage."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bench import people_import
from core.vision.engine import FaceEngine

pytestmark = pytest.mark.slow


def test_every_stage_runs_and_every_person_goes_in(
    db_engine: Engine, tmp_path: Path, face_engine: FaceEngine
) -> None:
    # The write path's people are enrolled under a stand-in model; the real models'
    # stages after it were refused as pending re-enrollment while they were stored.
    said: list[str] = []
    found = people_import.run(
        db_engine,
        tmp_path,
        write_people=12,
        face_people=3,
        end_to_end_people=4,
        cores=1,
        progress=said.append,
    )
    stages = [(rate.stage, rate.people, rate.went_in) for rate in found.rates]
    assert stages == [
        ("write path (synthetic faces)", 12, 12),
        ("face step (real models)", 3, 3),
        ("end to end", 4, 4),
    ]
    with db_engine.connect() as connection:
        stored = connection.execute(
            text("SELECT model, count(*) FROM face_templates GROUP BY model")
        ).all()
    # The end-to-end people alone, two photos each, under the real model.
    assert [tuple(row) for row in stored] == [(face_engine.template_model, 4 * 2)]
    assert len(said) == 3
