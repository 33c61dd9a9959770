"""What the access rules add to a matched person's decision (issue 12, target: < 1 ms p99
at 10,000 people in 100 groups across 20 doors).

A synthetic site is stored through the kiosk's own rules store (apply_rule_set),
then the door's own calls are timed: the read of one person's rules at one door
(one round trip), the pure evaluation, and both together (DoorAccess.check, what
the door runs after a match).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from bench.stats import Latency, summarize
from core.access.door_access import DoorAccess
from core.records import Role
from core.rules.evaluation import evaluate
from core.rules.model import (
    ALWAYS,
    AccessGroup,
    Door,
    HolidayCalendar,
    Schedule,
    TimeRange,
    Weekday,
)
from core.rules.public_holidays import PublicHolidays
from core.rules.rule_set import RuleSet
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")


@dataclass(frozen=True)
class RulesSite:
    people: int
    groups: int
    doors: int
    memberships: int


@dataclass(frozen=True)
class RulesResult:
    site: RulesSite
    evaluation: Latency
    """The pure evaluation of rules already read."""
    read: Latency
    """SqlRulesStore.door_rules: one person's rules at one door, one round trip."""
    check: Latency
    """DoorAccess.check: the read and the evaluation, as the door runs them."""
    allowed_share: float


def run(engine: Engine, people: int, groups: int, doors: int, checks: int) -> RulesResult:
    """Store a site of ``people`` in ``groups`` across ``doors`` and time ``checks``
    decisions at random doors and moments (the moments spread over a year, so
    schedules, holidays and validity all take part)."""
    rng = random.Random(12)
    person_ids = _load_people(engine, people, rng)
    rules = SqlRulesStore(engine)
    admin = SqlOperatorStore(engine).add_first_operator("bench", "bench-unused", Role.ADMIN)
    site = _site(person_ids, groups, doors, rng)
    rules.apply_rule_set(site, actor=admin, dry_run=False)
    memberships = sum(len(m) for m in site.members.values())
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    holidays = PublicHolidays()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cases = [
        (
            rng.choice(person_ids),
            f"door-{rng.randrange(doors):02d}",
            start + timedelta(minutes=rng.randrange(365 * 24 * 60)),
        )
        for _ in range(checks)
    ]
    for person, door, _ in cases[:50]:  # warm the pool, the plan cache and the calendars
        rules.door_rules(person, door)
    read_ms: list[float] = []
    evaluation_ms: list[float] = []
    check_ms: list[float] = []
    allowed = 0
    for person, door, moment in cases:
        began = time.perf_counter()
        found = rules.door_rules(person, door)
        read = time.perf_counter()
        verdict = evaluate(found, moment, holidays)
        evaluated = time.perf_counter()
        read_ms.append((read - began) * 1000)
        evaluation_ms.append((evaluated - read) * 1000)
        allowed += verdict.allowed
        access = DoorAccess(kiosk_id=door, rules=rules, holidays=holidays, now=_at(moment))
        began = time.perf_counter()
        access.check(person)
        check_ms.append((time.perf_counter() - began) * 1000)
    return RulesResult(
        RulesSite(people, groups, doors, memberships),
        summarize(evaluation_ms),
        summarize(read_ms),
        summarize(check_ms),
        allowed / len(cases),
    )


def _at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _load_people(engine: Engine, count: int, rng: random.Random) -> list[uuid.UUID]:
    """People with a validity window for one in ten (visitors and contractors)."""
    people = [uuid.uuid4() for _ in range(count)]
    rows = []
    for number, person in enumerate(people):
        valid = None
        if rng.random() < 0.1:
            first = datetime(2026, 1, 1) + timedelta(days=rng.randrange(300))
            valid = (first.date(), (first + timedelta(days=rng.randrange(1, 60))).date())
        rows.append(
            {
                "id": person,
                "name": f"synthetic {number}",
                "from": valid[0] if valid else None,
                "until": valid[1] if valid else None,
            }
        )
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO people (id, display_name, valid_from, valid_until) "
                "VALUES (:id, :name, :from, :until)"
            ),
            rows,
        )
    return people


def _site(people: list[uuid.UUID], groups: int, doors: int, rng: random.Random) -> RuleSet:
    calendars = (
        HolidayCalendar("bavaria", "DE", "BY"),
        HolidayCalendar("new york", "US", "NY"),
        HolidayCalendar("japan", "JP"),
    )
    door_list = tuple(
        Door(
            f"door-{n:02d}",
            f"Door {n}",
            ZONES[n % len(ZONES)],
            calendars[n % len(calendars)].name if n % 4 else None,
        )
        for n in range(doors)
    )
    schedules = [ALWAYS]
    for n in range(10):
        start = rng.randrange(5, 10) * 60
        days = list(Weekday)[: rng.choice((5, 6, 7))]
        ranges: tuple[TimeRange, ...] = (TimeRange(start, start + rng.randrange(4, 12) * 60),)
        if n % 3 == 0:
            ranges += (TimeRange(1260, 1440),)  # an evening shift too
        schedules.append(Schedule(f"shift {n}", dict.fromkeys(days, ranges)))
    group_list = []
    members: dict[str, set[uuid.UUID]] = {}
    for n in range(groups):
        chosen = frozenset(d.kiosk_id for d in rng.sample(door_list, k=min(5, doors)))
        schedule = rng.choice(schedules[1:])
        holiday = "always" if n % 10 == 0 else None
        group_list.append(AccessGroup(f"group {n:03d}", schedule.name, chosen, False, holiday))
        members[group_list[-1].name] = set()
    for person in people:
        for group in rng.sample(group_list, k=rng.randint(1, 3)):
            members[group.name].add(person)
    return RuleSet(
        doors=door_list,
        schedules=tuple(schedules),
        calendars=calendars,
        groups=tuple(group_list),
        members={name: frozenset(found) for name, found in members.items()},
    )
