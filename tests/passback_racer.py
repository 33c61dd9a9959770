"""A kiosk process passing one person through its door, driven line by line from a
test: ``python -m tests.passback_racer URL KIOSK_ID PERSON_ID`` answers ``ready``
once connected, then reads ``enter MOMENT`` (an ISO moment with its zone) on stdin
and answers each with one JSON line: the action in each area, or the error.

Two of them racing is two kiosks on two machines: their own processes, pools and
CPU, nothing shared but the database.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text

from core.errors import KioskError
from storage.area_presence import SqlAreaPresence
from storage.database import connect

ZONE = ZoneInfo("Europe/Berlin")


def main() -> int:
    url, kiosk_id, person = sys.argv[1:4]
    engine = connect(url)
    with engine.connect() as connection:  # the pool's connection, made before the race
        connection.execute(text("SELECT 1"))
    presence = SqlAreaPresence(engine)
    print(json.dumps({"ready": kiosk_id}), flush=True)  # noqa: T201 - the test reads this
    for command in sys.stdin:
        word, _, moment = command.strip().partition(" ")
        answer: dict[str, object] = {"command": word}
        try:
            passage = presence.pass_door(
                uuid.UUID(person), kiosk_id, datetime.fromisoformat(moment), ZONE
            )
            answer["actions"] = [p.action.value for p in passage.verdict.passages]
        except KioskError as error:
            answer["error"] = str(error)
        print(json.dumps(answer), flush=True)  # noqa: T201 - the test reads this
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
