"""The kiosk-admin commands. Each takes parsed arguments and returns a Report."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from admin import access_commands
from admin.columns import columns
from admin.context import CommandContext
from admin.output import Report
from core.access.wiegand import badge_warning
from core.accounts.operators import normalise_username
from core.accounts.permissions import Permission, authorize
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import MAX_ENROLLMENT_IMAGES
from core.enrollment.reenrollment import reenrollment_note
from core.enrollment.refusals import refusal_reason
from core.errors import ConsentMissing, InputRejected, InvalidValue
from core.matching.match_rule import MatchReason
from core.vision.imagefile import check_image_file, read_image_file
from storage.kiosk_presence import kiosk_presence


def init(args: argparse.Namespace, ctx: CommandContext) -> Report:
    # Refuse what can be refused before anyone types a password.
    username = normalise_username(args.admin)
    store = ctx.store
    password = ctx.password(f"new password for {username}: ", confirm=True)
    operator = ctx.authenticator.create_first_admin(username, password)
    return Report(
        {"operator": operator.username, "role": operator.role.value, "store": store.location},
        f"created admin operator {operator.username} ({store.location})",
    )


def enroll(args: argparse.Namespace, ctx: CommandContext) -> Report:
    # Too many images are refused before a password is asked, and any file too big or not
    # an image from its size and header: no image is decoded before all of them passed.
    if len(args.image) > MAX_ENROLLMENT_IMAGES:
        raise InvalidValue(
            f"{len(args.image)} images; enrollment takes at most {MAX_ENROLLMENT_IMAGES}: "
            "choose the best ones"
        )
    groups, validity = access_commands.enrollment_access(args, ctx)
    operator = ctx.login(args.operator)
    # Before the models load; the service checks again.
    authorize(operator, Permission.ENROLL, ctx.store.identity)
    try:
        for path in args.image:
            check_image_file(path, ctx.settings.images)
        images = [(path.name, read_image_file(path, ctx.settings.images)) for path in args.image]
    except InputRejected as refused:
        # Read here, before the service: the service would have audited this refusal.
        ctx.store.identity.record_refused_enrollment(
            operator, refusal_reason(refused), len(args.image)
        )
        raise
    consent = current_consent()
    try:
        result = ctx.enrollment.enroll(
            operator,
            args.name,
            args.external_ref,
            images,
            consent,
            consent_given=args.consent,
            groups=groups,
            validity=validity,
        )
    except ConsentMissing as missing:  # audited by the service; the CLI's way to give it
        raise ConsentMissing(
            "enrollment needs the person's recorded consent to the consent text in force "
            f"({consent.version}): read it to them and, once they agree, run the command "
            "again with --consent"
        ) from missing
    data: dict[str, object] = {
        "person_id": str(result.person_id),
        "name": " ".join(args.name.split()),
        "templates": result.templates,
        "consent_version": consent.version,
        "groups": list(groups) if groups is not None else None,
        "valid_from": validity.valid_from.isoformat() if validity.valid_from else None,
        "valid_until": validity.valid_until.isoformat() if validity.valid_until else None,
    }
    text = (
        f"enrolled {' '.join(args.name.split())} as {result.person_id} "
        f"with {result.templates} template(s), consent {consent.version}; groups "
        f"{', '.join(groups) if groups is not None else '(the default group)'}, valid "
        + access_commands.validity_text(validity)
    )
    # With an OSDP door controller, the badge number is how the controller knows them.
    warning = badge_warning(args.external_ref, ctx.settings.osdp)
    if warning is not None:
        data["warning"] = warning
        text += f"\nwarning: {warning}"
    return Report(data, text)


def identify(args: argparse.Namespace, ctx: CommandContext) -> Report:
    operator = ctx.login(args.operator)
    # Before the models load; the service checks again.
    authorize(operator, Permission.IDENTIFY, ctx.store.identity)
    image = read_image_file(args.image, ctx.settings.images)
    outcome = ctx.identification.identify(
        operator, image, args.image.name, ctx.recognition_throttle
    )
    decision = outcome.match
    best = decision.best
    data: dict[str, object] = {
        "result": "match" if decision.matched else "unknown",
        "reason": decision.reason.value,
        "latency_ms": round(outcome.decision.latency_ms, 1),
    }
    if decision.matched is not None:
        match = decision.matched
        data.update(
            person_id=str(match.person_id),
            name=match.display_name,
            similarity=round(match.similarity, 4),
        )
        return Report(
            data,
            f"match: {match.display_name} ({match.person_id}), similarity {match.similarity:.3f}",
        )
    data["best_similarity"] = round(best.similarity, 4) if best else None
    # After a change of model pack, people enrolled with the old one cannot match.
    need = ctx.store.identity.reenrollment_needed(ctx.engine.template_model)
    data["to_reenroll"] = need.people
    note = f"\n{reenrollment_note(need)}" if need.people else ""
    if decision.reason is MatchReason.EMPTY_GALLERY:
        nobody = (
            f"unknown: nobody is enrolled with the model in use ({need.model})"
            if need.people
            else "unknown: nobody is enrolled yet"
        )
        return Report(data, nobody + note)
    assert best is not None
    why = (
        "too close to another person"
        if decision.reason is MatchReason.AMBIGUOUS
        else (f"below the threshold {ctx.effective.matching.threshold:.2f}")
    )
    return Report(data, f"unknown: best similarity {best.similarity:.3f}, {why}{note}")


def person_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a person id; ids look like the ones `kiosk-admin people` prints"
        ) from error


def image_path(value: str) -> Path:
    return Path(value).expanduser()


def kiosks(args: argparse.Namespace, ctx: CommandContext) -> Report:
    authorize(ctx.login(args.operator), Permission.READ_ACCESS_LOG, ctx.store.audit)
    found = kiosk_presence(ctx.store.engine)
    table = columns(
        ["ID", "NAME", "VERSION", "STATE", "LAST SEEN", "LAST STARTED"],
        [
            [
                p.kiosk.id,
                p.kiosk.name,
                p.kiosk.version,
                "online" if p.online else "offline",
                "now" if p.online else f"{p.last_seen_at:%Y-%m-%d %H:%M}",
                f"{p.kiosk.last_started_at:%Y-%m-%d %H:%M}",
            ]
            for p in found
        ],
    )
    return Report(
        {
            "kiosks": [
                vars(p.kiosk) | {"online": p.online, "last_seen_at": p.last_seen_at} for p in found
            ]
        },
        table if found else "no kiosk has started on this database yet",
    )
