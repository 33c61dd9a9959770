"""kiosk-admin commands about enrolled people."""

from __future__ import annotations

import argparse
import sys

from admin import access_commands
from admin.columns import columns
from admin.context import CommandContext
from admin.output import Report, ask
from admin.person_refs import resolve
from admin.photo_commands import add_photos
from core.accounts.permissions import Permission, authorize
from core.errors import InvalidValue
from core.inference.modelpack import resolve_model_pack
from core.people.people import PersonView
from core.people.pins import PinChange, PinKind, pin_set_text
from core.records import Deletion, PersonSummary


def people(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if args.action == "access":
        return access_commands.person_access(args, ctx)
    if args.action == "pin":
        return pin(args, ctx)
    if args.action == "add-photos":
        return add_photos(args, ctx)
    if args.image:
        raise InvalidValue("--image goes with people add-photos PERSON_ID")
    _only_for_access(args)
    if args.model is not None:
        return _to_reenroll(args, ctx)
    found = ctx.people.find(ctx.login(args.operator), args.search, args.limit)
    empty = "nobody is enrolled" + (" matching that search" if args.search else "")
    table = columns(
        ["ID", "NAME", "REFERENCE", "TEMPLATES", "ENROLLED"],
        [
            [p.id, p.display_name, p.external_ref, p.template_count, f"{p.created_at:%Y-%m-%d}"]
            for p in found
        ],
    )
    return Report({"people": [summary_data(p) for p in found]}, table if found else empty)


def _to_reenroll(args: argparse.Namespace, ctx: CommandContext) -> Report:
    """`people --model`: who has templates of other models only, and of which."""
    # The pack's model from its files' hashes: no model is loaded to list people.
    model = args.model or resolve_model_pack(ctx.settings.models.pack_dir).template_model
    found = ctx.people.find(ctx.login(args.operator), args.search, args.limit, lacking_model=model)
    data = {"model": model, "people": [summary_data(p) for p in found]}
    if not found:
        return Report(data, f"everyone enrolled has templates of the model in use ({model})")
    table = columns(
        ["ID", "NAME", "REFERENCE", "MODELS"],
        [[p.id, p.display_name, p.external_ref, ", ".join(p.template_models)] for p in found],
    )
    return Report(
        data, f"enrolled with other models than {model}; re-enroll them to be recognised:\n{table}"
    )


def pin(args: argparse.Namespace, ctx: CommandContext) -> Report:
    """Set a person's PIN or duress PIN (read without echo, or from standard input),
    or clear it; the PIN is never printed, logged or audited."""
    if args.person_id is None:
        raise InvalidValue("kiosk-admin people pin: give the person's id (PERSON_ID)")
    actor = ctx.login(args.operator)
    kind = PinKind.DURESS if args.duress else PinKind.PIN
    what = "duress PIN" if kind is PinKind.DURESS else "PIN"
    person = str(args.person_id)
    if args.clear:
        had = ctx.pins.clear_pin(actor, args.person_id, kind)
        cleared = f"{what} of {person} cleared" + ("" if had else " (there was none)")
        if kind is PinKind.PIN and had:
            cleared += "; a duress PIN, if any, went with it"
        return Report({"person_id": person, "kind": kind.value, "cleared": had}, cleared)
    ctx.pins.may_set(actor)  # refused before anyone types a PIN
    typed = ctx.new_pin(f"new {what} for {person} (4-8 digits): ")
    change = ctx.pins.set_pin(actor, args.person_id, typed, kind)
    return Report(
        {
            "person_id": person,
            "kind": kind.value,
            "set": True,
            "duress_cleared": change is PinChange.DURESS_CLEARED,
        },
        pin_set_text(kind, change, person),
    )


def _only_for_access(args: argparse.Namespace) -> None:
    if args.duress or args.clear:
        raise InvalidValue(
            "--duress and --clear go with people pin: kiosk-admin people pin PERSON_ID"
        )
    given = args.person_id is not None or any(
        getattr(args, option) for option in access_commands.ACCESS_OPTIONS
    )
    if given:
        raise InvalidValue(
            "a person id and the access options go with people access: "
            "kiosk-admin people access PERSON_ID [--groups ...]"
        )


def show(args: argparse.Namespace, ctx: CommandContext) -> Report:
    actor = ctx.login(args.operator)
    view = ctx.people.show(actor, resolve(ctx, actor, args.person_id))
    return Report(_view_data(view), _view_text(view))


def withdraw_consent(args: argparse.Namespace, ctx: CommandContext) -> Report:
    deletion = ctx.people.withdraw_consent(ctx.login(args.operator), args.person_id)
    return _deletion_report(
        deletion,
        f"consent withdrawn for {deletion.person_id}: "
        f"{deletion.templates_deleted} template(s) removed",
    )


def delete(args: argparse.Namespace, ctx: CommandContext) -> Report:
    """Asks first at a terminal; elsewhere (a script, a pipe) only --yes deletes."""
    if not args.yes and not sys.stdin.isatty():
        raise InvalidValue(
            "delete asks for confirmation at a terminal and none is here; "
            "to delete from a script, add --yes"
        )
    actor = ctx.login(args.operator)
    authorize(actor, Permission.DELETE_PEOPLE, ctx.store.identity)  # the service checks again
    person = resolve(ctx, actor, args.person_id)
    if not args.yes:
        name = ctx.people.show(actor, person).detail.summary.display_name or "(erased)"
        answer = ask(
            f"delete {name} ({person})? Their name, reference and every template are "
            "erased, and consent is marked withdrawn; this cannot be undone. Type yes: "
        )
        if answer.strip().lower() != "yes":
            return Report(
                {"person_id": str(person), "deleted": False},
                f"not deleted: {person} is unchanged",
                exit_code=1,
            )
    deletion = ctx.people.delete(actor, person)
    return _deletion_report(
        deletion,
        f"deleted {deletion.person_id}: {deletion.templates_deleted} template(s) removed, "
        "consent withdrawn",
    )


def purge_expired(args: argparse.Namespace, ctx: CommandContext) -> Report:
    purged = ctx.people.purge_expired(ctx.login(args.operator))
    days = ctx.settings.security.retention_days
    return Report(
        {"purged": [str(person_id) for person_id in purged], "retention_days": days},
        f"purged {len(purged)} person(s) not recognised for {days} days"
        + "".join(f"\n  {person_id}" for person_id in purged),
    )


def _deletion_report(deletion: Deletion, text: str) -> Report:
    return Report(
        {
            "person_id": str(deletion.person_id),
            "templates_deleted": deletion.templates_deleted,
            "consents_withdrawn": deletion.consents_withdrawn,
        },
        text,
    )


def summary_data(p: PersonSummary) -> dict[str, object]:
    return {
        "person_id": str(p.id),
        "name": p.display_name,
        "external_ref": p.external_ref,
        "status": p.status.value,
        "created_at": p.created_at.isoformat(),
        "templates": p.template_count,
        "template_models": list(p.template_models),
    }


def _view_data(view: PersonView) -> dict[str, object]:
    detail = view.detail
    data = summary_data(detail.summary)
    data["deleted_at"] = detail.deleted_at.isoformat() if detail.deleted_at else None
    data["last_recognized_at"] = (
        detail.last_recognized_at.isoformat() if detail.last_recognized_at else None
    )
    data["retention_deadline"] = (
        view.retention_deadline.isoformat() if view.retention_deadline else None
    )
    data["template_models"] = list(detail.template_models)
    data["consents"] = [
        {
            "version": c.version,
            "text_sha256": c.text_sha256,
            "given_at": c.given_at.isoformat(),
            "witnessed_by": c.witnessed_by,
            "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
            "form_reference": c.form_reference,
        }
        for c in detail.consents
    ]
    return data


def _view_text(view: PersonView) -> str:
    detail = view.detail
    p = detail.summary
    lines = [
        f"person:     {p.id}",
        f"name:       {p.display_name or '(erased)'}",
        f"reference:  {p.external_ref or '-'}",
        f"status:     {p.status.value}"
        + (f" since {detail.deleted_at:%Y-%m-%d %H:%M}" if detail.deleted_at else ""),
        f"enrolled:   {p.created_at:%Y-%m-%d %H:%M}",
        f"templates:  {p.template_count}",
    ]
    if view.retention_deadline is not None:
        lines.append(
            f"retention:  purged after {view.retention_deadline:%Y-%m-%d} unless recognised"
        )
    for c in detail.consents:
        withdrawn = f", withdrawn {c.withdrawn_at:%Y-%m-%d %H:%M}" if c.withdrawn_at else ""
        how = f"signed form {c.form_reference}, recorded by" if c.form_reference else "witnessed by"
        lines.append(
            f"consent:    {c.version} given {c.given_at:%Y-%m-%d %H:%M}, "
            f"{how} {c.witnessed_by}{withdrawn}"
        )
    return "\n".join(lines)
