"""kiosk-admin rules: the access rules as a file (export, import) and what they
decide for a person at a door and a moment (check)."""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from admin.access_commands import validity_text
from admin.context import CommandContext
from admin.moments import bounded_moment
from admin.output import Report
from core.access.rule_check import RuleCheck, RuleExplanation
from core.errors import InvalidValue
from core.records import REFUSAL_TEXT
from core.rules.public_holidays import PublicHolidays
from core.rules.rule_set import RuleSet
from core.rules.rules_file import RulesFile, read_rules_file
from core.rules.rules_file_text import rules_file_text
from core.rules.rules_import import apply_rules_file, change_text
from owned_files.inputs import NotARegularFile, read_regular
from storage.rule_check import SqlRuleCheckSource

EXIT_REFUSED = 4
"""rules check: the door would refuse (as issue 25 asks). A refusal of the command
itself (not allowed, no login) exits 4 too, but as an error on stderr, while a
refused check is a result on stdout with "allowed": false."""


def export(args: argparse.Namespace, ctx: CommandContext) -> Report:
    rules = ctx.store.rules.rule_set(actor=ctx.login(args.operator))
    text = rules_file_text(rules)
    counts = _counts(rules)
    if args.out is None:
        return Report({**counts, "out": None, "text": text}, text.rstrip("\n"))
    _write_private(args.out, text)
    return Report(
        {**counts, "out": str(args.out)},
        f"wrote {counts['doors']} door(s), {counts['schedules']} schedule(s), "
        f"{counts['calendars']} calendar(s), {counts['groups']} group(s) with "
        f"{counts['memberships']} membership(s) and {counts['areas']} area(s) to {args.out}",
    )


def import_(args: argparse.Namespace, ctx: CommandContext) -> Report:
    # The whole file is read and checked before a password is asked.
    rules_file = _read(args.file, ctx.settings.rules.file_max_kb * 1024)
    change = apply_rules_file(
        ctx.store.rules, rules_file, actor=ctx.login(args.operator), dry_run=args.dry_run
    )
    return Report(
        {"dry_run": args.dry_run, "applied": not args.dry_run, **change.summary()},
        change_text(change, dry_run=args.dry_run),
    )


def check(args: argparse.Namespace, ctx: CommandContext) -> Report:
    rule_check = RuleCheck(SqlRuleCheckSource(ctx.store.engine), ctx.store.rules, PublicHolidays())
    at = args.at if args.at is not None else datetime.now(UTC)
    explained = rule_check.explain(ctx.login(args.operator), args.person, args.door, at)
    return Report(
        _check_data(explained, args),
        _check_text(explained),
        exit_code=0 if explained.allowed else EXIT_REFUSED,
    )


def moment(value: str) -> datetime:
    """--at: an ISO 8601 date or time, 1970 to 2999 (admin.moments); the door's local
    time unless it has an offset."""
    return bounded_moment(value, "2026-12-24T22:00 (door's local time) or 2026-12-24T22:00+01:00")


def _check_data(explained: RuleExplanation, args: argparse.Namespace) -> dict[str, object]:
    verdict = explained.verdict
    rules = explained.rules
    refusal = explained.refusal
    return {
        "allowed": explained.allowed,
        "reason": refusal.value if refusal else None,
        "door": verdict.door,
        "local_time": verdict.local_time.isoformat(),
        "group": verdict.group,
        "holiday": verdict.holiday,
        "door_name": rules.door.display_name,
        "time_zone": rules.door.time_zone,
        "person_id": str(args.person),
        "screen": REFUSAL_TEXT[refusal] if refusal else None,
        "lockdown": explained.lockdown,
        "rules_reason": verdict.refusal.value if verdict.refusal else None,
        "valid_from": _iso(rules.validity.valid_from),
        "valid_until": _iso(rules.validity.valid_until),
        "groups": [
            {
                "group": grant.group,
                "schedule": grant.schedule.name,
                "holiday_schedule": grant.holiday_schedule.name if grant.holiday_schedule else None,
                "ranges": [str(r) for r in explained.ranges_that_day(grant)],
            }
            for grant in sorted(rules.grants, key=lambda g: g.group)
        ],
    }


def _check_text(explained: RuleExplanation) -> str:
    verdict = explained.verdict
    door = explained.rules.door
    when = f"{verdict.local_time:%a %Y-%m-%d %H:%M %Z}"
    refusal = explained.refusal
    if refusal is None:
        head = f"allowed at {door.kiosk_id} ({door.display_name}), {when}: by group {verdict.group}"
    else:
        head = (
            f"refused at {door.kiosk_id} ({door.display_name}), {when}: {refusal.value}"
            f' (the door says "{REFUSAL_TEXT[refusal]}")'
        )
    lines = [head, f"  valid: {validity_text(explained.rules.validity)}"]
    if explained.lockdown:
        rules_say = verdict.refusal.value if verdict.refusal else "allowed"
        lines.append(f"  the door is locked down (its last report); the rules alone: {rules_say}")
    if verdict.holiday is not None:
        lines.append(f"  holiday: {verdict.holiday} (each group's holiday schedule applies)")
    if not explained.rules.grants:
        lines.append("  groups at this door: none")
    for grant in sorted(explained.rules.grants, key=lambda g: g.group):
        schedule = grant.holiday_schedule if verdict.holiday is not None else grant.schedule
        ranges = ", ".join(str(r) for r in explained.ranges_that_day(grant)) or "closed"
        name = schedule.name if schedule is not None else "no holiday schedule"
        lines.append(f"  group {grant.group}: {name}, that day {ranges}")
    return "\n".join(lines)


def _counts(rules: RuleSet) -> dict[str, int]:
    return {
        "doors": len(rules.doors),
        "schedules": len(rules.schedules),
        "calendars": len(rules.calendars),
        "groups": len(rules.groups),
        "memberships": sum(len(m) for m in rules.members.values()),
        "areas": len(rules.areas),
    }


def _read(path: Path, max_bytes: int) -> RulesFile:
    try:
        data = read_regular(path, max_bytes)  # a FIFO or a device is refused, not waited on
    except NotARegularFile as error:
        raise InvalidValue(f"{error}; give the rules file itself") from error
    except OSError as error:
        raise InvalidValue(f"cannot read {path}: {error.strerror or error}") from error
    if len(data) > max_bytes:
        raise InvalidValue(
            f"{path} is larger than {max_bytes // 1024} KiB (rules.file_max_kb); "
            "is it the rules file?"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidValue(f"{path} is not UTF-8 text: save it as UTF-8") from error
    return read_rules_file(text, str(path))


def _write_private(path: Path, text: str) -> None:
    """``text`` as ``path``, owner-only (0600), whole or not at all: written beside it
    and renamed over it, so a link standing at ``path`` is replaced, never followed."""
    folder = path.parent
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise InvalidValue(
            f"cannot write to {folder}: {error.strerror or error}; give an --out in a folder "
            "you can write"
        ) from error
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise InvalidValue(
                f"cannot write {path}: {error.strerror or error}; give another --out"
            ) from error
        raise


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None
