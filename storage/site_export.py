"""What ``kiosk-admin export`` reads: each part the operator may see, in one snapshot.

The parts are read in one REPEATABLE READ transaction, so people, their consent,
the rules and the logs agree with each other whatever the doors write meanwhile;
rows are streamed to a ``TableSink`` (the front end's files), never held whole.
Operators leave without their password hashes; templates only to a sink that
seals them (the front end refuses them without a key file). The export is
audited once it is written (``data.exported``: the parts and their counts).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.permissions import ROLE_PERMISSIONS, Permission
from core.rules.rule_set import RuleSet
from storage.audit_log import append_audit, record_denial
from storage.operator_authority import act_as
from storage.rules_apply import read_rule_set
from storage.transactions import transaction

EXPORTED_ACTION = "data.exported"
_STREAMED_ROWS = 1000

Row = Mapping[str, Any]


class ExportPart(StrEnum):
    PEOPLE = "people"
    CONSENTS = "consents"
    RULES = "rules"
    OPERATORS = "operators"
    ACCESS_LOG = "access_log"
    AUDIT_LOG = "audit_log"
    TEMPLATES = "templates"


PART_PERMISSIONS: dict[ExportPart, Permission] = {
    ExportPart.PEOPLE: Permission.VIEW_PEOPLE,
    ExportPart.CONSENTS: Permission.VIEW_PEOPLE,
    ExportPart.RULES: Permission.READ_RULES,
    ExportPart.OPERATORS: Permission.MANAGE_OPERATORS,
    ExportPart.ACCESS_LOG: Permission.READ_ACCESS_LOG,
    ExportPart.AUDIT_LOG: Permission.READ_AUDIT,
    ExportPart.TEMPLATES: Permission.BACKUP,
}

COLUMNS: dict[ExportPart, tuple[str, ...]] = {
    ExportPart.PEOPLE: (
        "person_id", "name", "badge", "groups", "valid_from", "valid_until", "status",
        "created_at", "last_recognized_at", "deleted_at", "templates",
    ),
    ExportPart.CONSENTS: (
        "person_id", "version", "text_sha256", "form_reference", "given_at", "witnessed_by",
        "withdrawn_at", "withdrawn_by",
    ),
    ExportPart.OPERATORS: ("username", "role", "disabled", "created_at"),
    ExportPart.ACCESS_LOG: (
        "seq", "event_id", "occurred_at", "kiosk_id", "outcome", "refusal", "person_id",
        "similarity", "latency_ms", "source", "hash",
    ),
    ExportPart.AUDIT_LOG: (
        "seq", "event_id", "occurred_at", "actor", "action", "target", "details", "hash",
    ),
    ExportPart.TEMPLATES: ("person_id", "model", "quality", "created_at", "embedding"),
}  # fmt: skip

_QUERIES: dict[ExportPart, str] = {
    ExportPart.PEOPLE: """
        SELECT p.id AS person_id, p.display_name AS name, p.external_ref AS badge,
               COALESCE((SELECT array_agg(g.name ORDER BY g.name) FROM group_members m
                         JOIN access_groups g ON g.id = m.group_id WHERE m.person_id = p.id),
                        '{}') AS groups,
               p.valid_from, p.valid_until, p.status, p.created_at, p.last_recognized_at,
               p.deleted_at,
               (SELECT count(*) FROM face_templates t WHERE t.person_id = p.id) AS templates
        FROM people p ORDER BY p.created_at, p.id""",
    ExportPart.CONSENTS: """
        SELECT c.person_id, c.version, c.text_sha256, c.form_reference, c.given_at,
               w.username AS witnessed_by, c.withdrawn_at, o.username AS withdrawn_by
        FROM consent_records c JOIN operators w ON w.id = c.witnessed_by
        LEFT JOIN operators o ON o.id = c.withdrawn_by ORDER BY c.id""",
    ExportPart.OPERATORS: """
        SELECT username, role, disabled, created_at FROM operators ORDER BY username""",
    ExportPart.ACCESS_LOG: """
        SELECT seq, event_id, occurred_at, kiosk_id, outcome, refusal, person_id, similarity,
               latency_ms, source, hash FROM access_events ORDER BY seq""",
    ExportPart.AUDIT_LOG: """
        SELECT seq, event_id, occurred_at, actor, action, target, details, hash
        FROM audit_events ORDER BY seq""",
    ExportPart.TEMPLATES: """
        SELECT t.person_id, t.model, t.quality, t.created_at, t.embedding::real[] AS embedding
        FROM face_templates t JOIN people p ON p.id = t.person_id
        WHERE p.status = 'active' ORDER BY t.id""",
}


class TableSink(Protocol):
    """Where the export's parts go (the front end's files)."""

    def table(self, part: ExportPart, columns: Sequence[str], rows: Iterable[Row]) -> int:
        """Write every row of ``part``; the number written."""
        ...

    def document(self, part: ExportPart, data: dict[str, Any]) -> None:
        """Write ``part`` as one document (the rules)."""
        ...


def allowed_parts(role: records.Role) -> set[ExportPart]:
    """What an operator of ``role`` may export."""
    return {part for part, needs in PART_PERMISSIONS.items() if needs in ROLE_PERMISSIONS[role]}


class SqlSiteExport:
    """Thread-safe: each call opens its own Sessions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine)
        self._snapshots = sessionmaker(engine.execution_options(isolation_level="REPEATABLE READ"))

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    def export(
        self, actor: records.Operator, parts: set[ExportPart], sink: TableSink
    ) -> dict[ExportPart, int]:
        """Write ``parts`` to ``sink`` from one snapshot, each authorized for ``actor``
        as their account is now, then audit the export. Returns each part's rows (the
        rules: their groups). Raises NotAllowed or SessionExpired (audited) for a part
        the operator may not export, StoreError for an unreachable database."""
        counts: dict[ExportPart, int] = {}
        with transaction(self._snapshots) as session:
            for part in sorted(parts):
                act_as(session, actor, PART_PERMISSIONS[part], self)
            for part in sorted(parts):
                if part is ExportPart.RULES:
                    rules = read_rule_set(session)
                    sink.document(part, rules_document(rules))
                    counts[part] = len(rules.groups)
                else:
                    counts[part] = sink.table(part, COLUMNS[part], _rows(session, part))
        # Appended after the snapshot ends: an append must see the chain's newest head.
        with transaction(self._sessions) as session:
            append_audit(
                session,
                actor.username,
                EXPORTED_ACTION,
                None,
                {"parts": {part.value: n for part, n in sorted(counts.items())}},
            )
        return counts


def _rows(session: Session, part: ExportPart) -> Iterator[Row]:
    result = session.execute(
        text(_QUERIES[part]).execution_options(stream_results=True, yield_per=_STREAMED_ROWS)
    )
    for row in result.mappings():
        yield dict(row)


def rules_document(rules: RuleSet) -> dict[str, Any]:
    """The rule set as plain JSON values: times as "HH:MM-HH:MM", days as ISO dates."""
    return {
        "doors": [
            {
                "kiosk_id": d.kiosk_id,
                "name": d.display_name,
                "time_zone": d.time_zone,
                "calendar": d.calendar,
                "mode": d.mode.value,
            }
            for d in rules.doors
        ],
        "schedules": [
            {
                "name": s.name,
                "week": {day.key: [str(r) for r in ranges] for day, ranges in s.week.items()},
            }
            for s in rules.schedules
        ],
        "holiday_calendars": [
            {
                "name": c.name,
                "country": c.country,
                "subdivision": c.subdivision,
                "closures": sorted(day.isoformat() for day in c.closures),
            }
            for c in rules.calendars
        ],
        "groups": [
            {
                "name": g.name,
                "schedule": g.schedule,
                "holiday_schedule": g.holiday_schedule,
                "doors": sorted(g.doors),
                "all_doors": g.all_doors,
                "default": g.default,
                "enrollers_may_assign": g.enrollers_may_assign,
                "members": sorted(str(p) for p in rules.members.get(g.name, ())),
            }
            for g in rules.groups
        ],
        "anti_passback_areas": [
            {"name": a.name, "entry": sorted(a.entry), "exit": sorted(a.exit), "mode": a.mode.value}
            for a in rules.areas
        ],
    }
