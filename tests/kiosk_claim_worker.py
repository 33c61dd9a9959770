"""A kiosk process taking its kiosk id, driven from a test: ``python -m
tests.kiosk_claim_worker URL KIOSK_ID WAIT_S``. It connects and says it is ready, takes
the id when it reads ``go`` (so that several take it at the same moment), says whether
it holds it, and holds it until its standard input closes (or it is killed).

Each answer is one JSON line on stdout: {"ready": true}, then {"held": true} or
{"held": false, "error": "..."}.
"""

from __future__ import annotations

import json
import sys

from sqlalchemy import text

from core.errors import KioskError
from storage.database import connect
from storage.kiosk_claim import claim_kiosk_id


def main() -> int:
    url, kiosk_id, wait_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    engine = connect(url)
    with engine.connect() as connection:  # connected before the race: only the claim races
        connection.execute(text("SELECT 1"))
    print(json.dumps({"ready": True}), flush=True)  # noqa: T201 - the test reads this
    if sys.stdin.readline().strip() != "go":
        return 1
    try:
        claim = claim_kiosk_id(engine, kiosk_id, wait_s)
    except KioskError as error:
        print(json.dumps({"held": False, "error": str(error)}), flush=True)  # noqa: T201
        return 0
    print(json.dumps({"held": True}), flush=True)  # noqa: T201
    sys.stdin.read()  # held until the test lets go
    claim.close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
