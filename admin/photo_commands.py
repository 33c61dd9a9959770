"""kiosk-admin add-photos (and people add-photos): more photos of an enrolled person."""

from __future__ import annotations

import argparse
from typing import Any

from admin import commands
from admin.context import CommandContext
from admin.output import Report
from admin.person_refs import person_ref, resolve
from core.accounts.permissions import Permission, authorize
from core.enrollment.enrollment import MAX_ENROLLMENT_IMAGES
from core.enrollment.photo_addition import PhotoAddition
from core.errors import InputRejected, InvalidValue
from core.vision.imagefile import check_image_file, read_image_file
from storage.person_photos import SqlPersonPhotos

SUMMARY = (
    "add photos to an enrolled person whose consent is in force: each passes the "
    "enrollment's quality gate and must be that person and nobody else enrolled"
)


def add_command(sub: Any, command: Any) -> None:
    """``add-photos PERSON_ID --image PATH ... --operator USER``."""
    p = command(sub, "add-photos", add_photos, SUMMARY)
    p.add_argument("person_id", type=person_ref, metavar="PERSON_ID", help="or its start")
    add_image_option(p, required=True)


def add_image_option(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    parser.add_argument(
        "--image",
        required=required,
        action="append",
        type=commands.image_path,
        metavar="PATH",
        help="with add-photos: a photo of the person, exactly one face; repeat for more",
    )


def add_photos(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if args.person_id is None or not args.image:
        raise InvalidValue(
            "add-photos needs the person and the photos: "
            "kiosk-admin add-photos PERSON_ID --image PATH [--image PATH ...]"
        )
    # Refused before a password is asked and before any photo is decoded.
    if len(args.image) > MAX_ENROLLMENT_IMAGES:
        raise InvalidValue(
            f"{len(args.image)} photos; a person has at most {MAX_ENROLLMENT_IMAGES} "
            "templates: choose the best ones"
        )
    for path in args.image:
        check_image_file(path, ctx.settings.images)
    actor = ctx.login(args.operator)
    authorize(actor, Permission.ENROLL, ctx.store.identity)  # before the models load
    person = resolve(ctx, actor, str(args.person_id))
    service = PhotoAddition(
        ctx.enrollment,
        SqlPersonPhotos(ctx.store.engine),
        ctx.effective.matching,
        ctx.engine.template_model,
    )
    try:
        images = [(path.name, read_image_file(path, ctx.settings.images)) for path in args.image]
    except InputRejected as refused:  # read here, before the service: audited as its own
        service.record_refusal(actor, person, refused, len(args.image))
        raise
    total = service.add(actor, person, images)
    return Report(
        {"person_id": str(person), "templates_added": len(images), "templates": total},
        f"added {len(images)} photo(s) to {person}: {total} template(s) now",
    )
