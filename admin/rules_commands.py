"""kiosk-admin rules: the access rules as a file (export, import) and what they
decide for a person at a door and a moment (check)."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from admin.access_commands import validity_text
from admin.context import CommandContext
from admin.moments import bounded_moment
from admin.output import Report
from admin.rules_files import read_rules_path, refuse_odd_target, write_private
from core.access.rule_check import RuleCheck, RuleExplanation
from core.records import REFUSAL_TEXT
from core.rules.passback import AreaPassage, PassbackAction
from core.rules.public_holidays import PublicHolidays
from core.rules.rule_set import RuleSet
from core.rules.rules_file_text import rules_file_text
from core.rules.rules_import import apply_rules_file, change_text
from storage.rule_check import SqlRuleCheckSource

EXIT_REFUSED = 4
"""rules check: the door would refuse (as issue 25 asks). A refusal of the command
itself (not allowed, no login) exits 4 too, but as an error on stderr, while a
refused check is a result on stdout with "allowed": false."""


def export(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if args.out is not None:
        refuse_odd_target(args.out)  # before the password is asked for
    rules = ctx.store.rules.rule_set(actor=ctx.login(args.operator))
    text = rules_file_text(rules)
    counts = _counts(rules)
    if args.out is None:
        return Report({**counts, "out": None, "text": text}, text.rstrip("\n"))
    write_private(args.out, text)
    return Report(
        {**counts, "out": str(args.out)},
        f"wrote {counts['doors']} door(s), {counts['schedules']} schedule(s), "
        f"{counts['calendars']} calendar(s), {counts['groups']} group(s) with "
        f"{counts['memberships']} membership(s) and {counts['areas']} area(s) to {args.out}",
    )


def import_(args: argparse.Namespace, ctx: CommandContext) -> Report:
    # The whole file is read and checked before a password is asked.
    rules_file = read_rules_path(args.file, ctx.settings.rules.file_max_kb * 1024)
    change = apply_rules_file(
        ctx.store.rules,
        rules_file,
        actor=ctx.login(args.operator),
        dry_run=args.dry_run,
        force=args.force,
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
        "pin_required": explained.pin_required,
        "pin": (
            {
                "set": explained.pin.has_pin,
                "waits_until": _moment(explained.pin.waits_until),
                "refused": explained.pin_refusal,
            }
            if explained.pin_required
            else None
        ),
        "anti_passback": [
            {
                "area": passage.area,
                "action": passage.action.value,
                "inside_since": _moment(passage.before.inside_since),
                "entered_through": passage.before.door if passage.before.inside_since else None,
            }
            for passage in explained.passback.passages
        ],
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
        if explained.pin_required:
            head += "; then needs their PIN"
    else:
        head = (
            f"refused at {door.kiosk_id} ({door.display_name}), {when}: {refusal.value}"
            f' (the door says "{REFUSAL_TEXT[refusal]}")'
        )
    lines = [head, f"  valid: {validity_text(explained.rules.validity)}"]
    if explained.lockdown:
        rules_say = verdict.refusal.value if verdict.refusal else "allowed"
        lines.append(f"  the door is locked down; the rules alone: {rules_say}")
    if explained.pin_required:
        lines.append(f"  PIN: {explained.pin_refusal or 'asked for after the face'}")
    for passage in explained.passback.passages:
        lines.append(f"  anti-passback: {_passage_text(passage, door.zone)}")
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


def _passage_text(passage: AreaPassage, zone: ZoneInfo) -> str:
    """One area's anti-passback step in words: "area hall: already inside since ...
    (through front): refused (hard)"."""
    before = passage.before
    if passage.action in (PassbackAction.REFUSE, PassbackAction.FLAG):
        assert before.inside_since is not None
        since = before.inside_since.astimezone(zone)
        what = "refused (hard)" if passage.action is PassbackAction.REFUSE else "granted and"
        if passage.action is PassbackAction.FLAG:
            what += " flagged (soft)"
        return (
            f"area {passage.area}: already inside since {since:%Y-%m-%d %H:%M %Z} "
            f"(through {before.door}): {what}"
        )
    if passage.action is PassbackAction.STAY:
        return f"area {passage.area}: nothing changes (another area refuses)"
    role = "entry, not inside" if passage.after.inside_since is not None else "exit"
    return f"area {passage.area} ({role}): passes"


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _counts(rules: RuleSet) -> dict[str, int]:
    return {
        "generation": rules.generation,
        "doors": len(rules.doors),
        "schedules": len(rules.schedules),
        "calendars": len(rules.calendars),
        "groups": len(rules.groups),
        "memberships": sum(len(m) for m in rules.members.values()),
        "areas": len(rules.areas),
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None
