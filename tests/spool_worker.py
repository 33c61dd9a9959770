"""A kiosk process's event log, driven line by line from a test: ``python -m
tests.spool_worker SPOOL URL KIOSK_ID`` reads commands on stdin and answers each
with one JSON line on stdout.

    record N   record N access events, sending the spool every third one if it waits
    flush      send the spool once
    drain      flush until nothing waits (the database must answer)
    status     what the log holds
    ids        the ids of the events recorded
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.errors import StoreError
from core.records import AccessDecision, AccessOutcome
from storage.database import connect
from storage.event_log import ResilientEventLog
from storage.spool import EventSpool


def main() -> int:
    spool_path, url, kiosk_id = sys.argv[1:4]
    spool = EventSpool(Path(spool_path))
    log = ResilientEventLog(connect(url), spool, kiosk_id)
    recorded: list[str] = []
    for command in sys.stdin:
        words = command.split()
        answer: dict[str, object] = {"command": words[0]}
        try:
            if words[0] == "record":
                for _ in range(int(words[1])):
                    event = AccessDecision(
                        kiosk_id=kiosk_id, outcome=AccessOutcome.UNKNOWN, latency_ms=20.0
                    )
                    log.record_access(event)
                    recorded.append(str(event.event_id))
                    if log.pending and len(recorded) % 3 == 0:
                        log.flush()  # what the flusher thread does meanwhile
            elif words[0] == "flush":
                answer["sent"] = log.flush()
            elif words[0] == "drain":
                for _ in range(100):
                    log.flush()
                    if not log.pending:
                        break
            elif words[0] == "ids":
                answer["ids"] = recorded
        except StoreError as error:
            answer["error"] = str(error)
        answer["pending"] = log.pending
        answer["spool"] = str(spool.path)
        print(json.dumps(answer), flush=True)  # noqa: T201 - the test reads this
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
