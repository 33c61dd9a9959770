"""The kiosk-admin commands. Each takes parsed arguments and returns a Report."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from admin.context import CommandContext
from admin.output import Report
from core.consent import current_consent
from core.imagefile import read_image_file
from core.matching import MatchReason
from core.modelpack import resolve_model_pack
from core.operators import normalise_username
from core.records import PersonDetail, PersonSummary
from storage.migrate import current_revision, head_revision


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
    operator = ctx.login(args.operator)
    images = [(path.name, read_image_file(path, ctx.settings.images)) for path in args.image]
    consent = current_consent()
    result = ctx.identity.enroll(
        operator, args.name, args.external_ref, images, consent, consent_given=args.consent
    )
    return Report(
        {
            "person_id": str(result.person_id),
            "name": " ".join(args.name.split()),
            "templates": result.templates,
            "consent_version": consent.version,
        },
        f"enrolled {' '.join(args.name.split())} as {result.person_id} "
        f"with {result.templates} template(s), consent {consent.version}",
    )


def identify(args: argparse.Namespace, ctx: CommandContext) -> Report:
    image = read_image_file(args.image, ctx.settings.images)
    outcome = ctx.identity.identify(image, args.image.name)
    decision = outcome.decision
    best = decision.best
    data: dict[str, object] = {
        "result": "match" if decision.matched else "unknown",
        "reason": decision.reason.value,
        "latency_ms": round(outcome.latency_ms, 1),
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
    if decision.reason is MatchReason.EMPTY_GALLERY:
        return Report(data, "unknown: nobody is enrolled yet")
    assert best is not None
    why = (
        "too close to another person"
        if decision.reason is MatchReason.AMBIGUOUS
        else (f"below the threshold {ctx.settings.matching.threshold:.2f}")
    )
    return Report(data, f"unknown: best similarity {best.similarity:.3f}, {why}")


def people(args: argparse.Namespace, ctx: CommandContext) -> Report:
    found = ctx.store.identity.people(args.search, args.limit)
    lines = [
        f"{p.id}  {p.display_name}  {p.external_ref or '-'}  {p.template_count} template(s)"
        for p in found
    ]
    return Report(
        {"people": [_summary(p) for p in found]},
        "\n".join(lines)
        if lines
        else "nobody is enrolled" + (" matching that search" if args.search else ""),
    )


def show(args: argparse.Namespace, ctx: CommandContext) -> Report:
    detail = ctx.store.identity.person(args.person_id)
    return Report(_detail(detail), _detail_text(detail))


def delete(args: argparse.Namespace, ctx: CommandContext) -> Report:
    operator = ctx.login(args.operator)
    deletion = ctx.identity.delete_person(operator, args.person_id)
    return Report(
        {
            "person_id": str(deletion.person_id),
            "templates_deleted": deletion.templates_deleted,
            "consents_withdrawn": deletion.consents_withdrawn,
        },
        f"deleted {deletion.person_id}: {deletion.templates_deleted} template(s) removed, "
        f"consent withdrawn",
    )


def audit(args: argparse.Namespace, ctx: CommandContext) -> Report:
    events = ctx.store.identity.audit_events(args.limit)
    return Report(
        {
            "events": [
                {
                    "id": e.id,
                    "occurred_at": e.occurred_at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "details": e.details,
                }
                for e in events
            ]
        },
        "\n".join(
            f"{e.occurred_at:%Y-%m-%d %H:%M:%S%z}  {e.actor}  {e.action}  {e.target or '-'}"
            for e in events
        )
        or "the audit log is empty",
    )


def health(args: argparse.Namespace, ctx: CommandContext) -> Report:
    pack = resolve_model_pack(ctx.settings.models.pack_dir)
    store = ctx.store
    revision = current_revision(store.engine)
    enrolled = store.identity.count_people()
    ctx.engine  # noqa: B018 - loading the models is the check
    data = {
        "store": store.location,
        "schema": revision,
        "schema_current": revision == head_revision(),
        "people": enrolled,
        "model_pack": pack.name,
        "model_dir": str(pack.directory),
        "template_model": pack.template_model,
        "models_verified_by": pack.verified_by,
        "providers": list(ctx.settings.models.providers),
    }
    text = "\n".join(
        [
            f"store:    {store.location} (schema {revision})",
            f"people:   {enrolled} enrolled",
            f"models:   {pack.name} in {pack.directory}",
            "          verified against " + pack.verified_by
            if pack.verified_by
            else "          NOT verified: add a SHA256SUMS file to pin these files",
            f"runtime:  onnxruntime on {', '.join(ctx.settings.models.providers)}",
        ]
    )
    return Report(data, text)


def _summary(p: PersonSummary) -> dict[str, object]:
    return {
        "person_id": str(p.id),
        "name": p.display_name,
        "external_ref": p.external_ref,
        "status": p.status.value,
        "created_at": p.created_at.isoformat(),
        "templates": p.template_count,
    }


def _detail(detail: PersonDetail) -> dict[str, object]:
    data = _summary(detail.summary)
    data["deleted_at"] = detail.deleted_at.isoformat() if detail.deleted_at else None
    data["template_models"] = list(detail.template_models)
    data["consents"] = [
        {
            "version": c.version,
            "text_sha256": c.text_sha256,
            "given_at": c.given_at.isoformat(),
            "witnessed_by": c.witnessed_by,
            "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
        }
        for c in detail.consents
    ]
    return data


def _detail_text(detail: PersonDetail) -> str:
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
    for c in detail.consents:
        withdrawn = f", withdrawn {c.withdrawn_at:%Y-%m-%d %H:%M}" if c.withdrawn_at else ""
        lines.append(
            f"consent:    {c.version} given {c.given_at:%Y-%m-%d %H:%M}, "
            f"witnessed by {c.witnessed_by}{withdrawn}"
        )
    return "\n".join(lines)


def person_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a person id; ids look like the ones `kiosk-admin people` prints"
        ) from error


def image_path(value: str) -> Path:
    return Path(value).expanduser()
