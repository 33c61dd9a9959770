"""Retention at scale (issue 28): the purge and consent withdrawal on a large site.

A synthetic site is loaded with SQL: ``people`` people, each with consent and in
the default group, three in five past a 3-year retention (one in fifty of those
recognised lately, so kept), the first ``templated`` with two templates. Then the
kiosk's own calls are timed: ``purge-expired`` (PeopleService.purge_expired: in
transactions of ``security.purge_batch_people``, each deletion audited), and
``withdraw-consent`` of single people while the whole site is stored.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, text

from bench.stats import Latency, summarize
from core.people.people import PeopleService
from core.records import Role
from core.settings import SecuritySettings
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore

RETENTION_DAYS = 1095


@dataclass(frozen=True)
class RetentionResult:
    people: int
    purged: int
    batch: int
    purge_s: float
    audit_events: int
    """person.purge events written: one per person purged."""
    withdrawal: Latency
    """One person's consent withdrawn (templates, consent, PINs, audit) at ``people``."""

    @property
    def purged_per_s(self) -> float:
        return self.purged / self.purge_s if self.purge_s else float("nan")


def run(engine: Engine, people: int, templated: int, withdrawals: int) -> RetentionResult:
    admin = SqlOperatorStore(engine).add_first_operator("bench", "bench-unused", Role.ADMIN)
    _load(engine, admin.id, people, templated)
    store = SqlIdentityStore(engine)
    policy = SecuritySettings(retention_days=RETENTION_DAYS)
    service = PeopleService(store, policy)
    with engine.connect() as connection:
        kept = list(
            connection.scalars(
                text("SELECT id FROM people WHERE created_at > now() - interval '1 year' LIMIT :n"),
                {"n": withdrawals},
            )
        )
    withdrawal_ms = []
    for person in kept:
        began = time.perf_counter()
        service.withdraw_consent(admin, uuid.UUID(str(person)))
        withdrawal_ms.append((time.perf_counter() - began) * 1000)
    began = time.perf_counter()
    purged = service.purge_expired(admin)
    purge_s = time.perf_counter() - began
    with engine.connect() as connection:
        events = connection.scalar(
            text("SELECT count(*) FROM audit_events WHERE action = 'person.purge'")
        )
    return RetentionResult(
        people,
        len(purged),
        policy.purge_batch_people,
        purge_s,
        int(events or 0),
        summarize(withdrawal_ms),
    )


def _load(engine: Engine, admin: int, people: int, templated: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO people (display_name, external_ref, created_at, last_recognized_at) "
                "SELECT 'synthetic ' || n, 'R-' || n, "
                "       now() - make_interval(days => CASE WHEN n % 5 < 3 THEN 2000 ELSE 10 END), "
                "       CASE WHEN n % 50 = 0 THEN now() - interval '5 days' END "
                "FROM generate_series(1, :people) AS n"
            ),
            {"people": people},
        )
        connection.execute(
            text(
                "INSERT INTO consent_records (person_id, version, text_sha256, witnessed_by) "
                "SELECT id, 'v1', repeat('ab', 32), :admin FROM people"
            ),
            {"admin": admin},
        )
        connection.execute(
            text(
                "INSERT INTO group_members (group_id, person_id) "
                "SELECT g.id, p.id FROM access_groups g CROSS JOIN people p WHERE g.is_default"
            )
        )
        connection.execute(
            text(
                "INSERT INTO face_templates (person_id, embedding, model, quality) "
                "SELECT p.id, ARRAY(SELECT random()::real FROM generate_series(1, 512) "
                "                   WHERE copy > 0)::vector, 'bench@1', 0.9 "
                "FROM people p CROSS JOIN generate_series(1, 2) AS copy "
                "WHERE substr(p.external_ref, 3)::int % (:people / :templated) = 1"
            ),
            {"people": people, "templated": max(templated, 1)},
        )
        connection.execute(text("ANALYZE"))
