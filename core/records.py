"""Domain records passed between the services and the store."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

from core.faces import Embedding
from core.match_settings import MatchSettings

# The most templates one person may have (one enrollment's images): the search looks
# this far past a person who fills every candidate, to see the runner-up.
MAX_TEMPLATES_PER_PERSON = 20


class Role(StrEnum):
    ADMIN = "admin"
    ENROLLER = "enroller"
    AUDITOR = "auditor"


class PersonStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class AccessOutcome(StrEnum):
    GRANTED = "granted"
    UNKNOWN = "unknown"
    NO_FACE = "no_face"
    OFFLINE = "offline"
    """Denied because the gallery could not be searched: the database was unreachable."""
    LIVENESS_FAILED = "liveness_failed"
    """Matched, but the liveness challenge was not met: denied."""
    REFUSED = "refused"
    """Recognised, but the access rules or the door's state refused: the decision's
    ``refusal`` says which rule (core.rules)."""


class Refusal(StrEnum):
    """Which rule refused a recognised person (issue 12, access rules)."""

    NO_GROUP_FOR_DOOR = "no_group_for_door"
    OUTSIDE_SCHEDULE = "outside_schedule"
    HOLIDAY = "holiday"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    PIN_WRONG = "pin_wrong"
    ANTI_PASSBACK = "anti_passback"
    LOCKDOWN = "lockdown"


@dataclass(frozen=True)
class Operator:
    id: int
    username: str
    role: Role
    disabled: bool
    password_hash: str = field(repr=False)
    session_epoch: int = 0
    """The account's session epoch when this record was read (at login). The
    database bumps it when the operator is disabled, their role changes or their
    password is set; an action by a record whose epoch is behind is refused."""


@dataclass(frozen=True)
class ConsentGrant:
    version: str
    text_sha256: str
    witnessed_by: Operator
    """The operator who read the text to the person, or who recorded a signed form."""
    form_reference: str | None = None
    """The signed form's reference (a bulk import); None: given in person at the kiosk."""


@dataclass(frozen=True)
class NewTemplate:
    embedding: Embedding = field(repr=False)
    model: str
    quality: float


@dataclass(frozen=True)
class Enrollment:
    display_name: str
    external_ref: str | None
    consent: ConsentGrant
    templates: tuple[NewTemplate, ...]
    groups: tuple[str, ...] | None = None
    """The access groups the person joins; None: the site's default group, if any."""
    valid_from: date | None = None
    valid_until: date | None = None
    """The first and last days the person may pass (core.rules.model.Validity)."""
    duplicate_threshold: float = MatchSettings.model_fields["threshold"].default
    """Cosine similarity at or above which a template already belongs to an enrolled
    person; the store refuses the enrollment then. The enrollment service passes
    the match threshold in force; the default is that threshold's default."""
    probes: tuple[NewTemplate, ...] = ()
    """The new face as the gallery's other models see it (a template per image and
    model): compared with those models' templates like ``templates``, never stored.
    The store refuses the enrollment if someone is enrolled only with a model that
    neither these nor ``templates`` are of (core.enrollment.model_change)."""


@dataclass(frozen=True)
class Candidate:
    """A person near a query, with the best similarity of any of their templates."""

    person_id: uuid.UUID
    display_name: str
    similarity: float


@dataclass(frozen=True)
class ConsentRecord:
    version: str
    text_sha256: str
    given_at: datetime
    witnessed_by: str
    withdrawn_at: datetime | None
    form_reference: str | None = None
    """Set when consent was given on a signed form (a bulk import)."""


@dataclass(frozen=True)
class PersonSummary:
    id: uuid.UUID
    display_name: str
    external_ref: str | None
    status: PersonStatus
    created_at: datetime
    template_count: int
    template_models: tuple[str, ...] = ()
    """The models their templates were made with (ModelPack.template_model)."""


@dataclass(frozen=True)
class ReenrollmentNeeded:
    """Active people with templates, none of them of ``model``: after a change of model
    pack they cannot be recognised until re-enrolled."""

    model: str
    people: int
    their_models: tuple[str, ...]
    """The models their templates are of, sorted."""


@dataclass(frozen=True)
class PersonDetail:
    summary: PersonSummary
    deleted_at: datetime | None
    last_recognized_at: datetime | None
    consents: tuple[ConsentRecord, ...]
    template_models: tuple[str, ...]


class DecisionSource(StrEnum):
    """Where a decision was made: only a door's decision counts as the person seen."""

    DOOR = "door"
    CLI = "cli"
    """``kiosk-admin identify``: recorded as such, never as a door decision, and it
    does not extend the person's retention."""


# What a person is told, and the log says, for each refusal.
REFUSAL_REASONS: dict[AccessOutcome, str] = {
    AccessOutcome.UNKNOWN: "not recognized",
    AccessOutcome.NO_FACE: "no usable face",
    AccessOutcome.OFFLINE: "the database cannot be reached: the door stays closed",
    AccessOutcome.LIVENESS_FAILED: "the liveness challenge was not met",
    AccessOutcome.REFUSED: "not allowed",
}

# What the door screen says for each rule's refusal: enough for the person to know
# what to do, nothing more (a stranger holding someone's photo learns no schedule).
REFUSAL_TEXT: dict[Refusal, str] = {
    Refusal.NO_GROUP_FOR_DOOR: "not allowed at this door",
    Refusal.OUTSIDE_SCHEDULE: "not allowed at this time",
    Refusal.HOLIDAY: "not allowed at this time",
    Refusal.EXPIRED: "access has ended: please see reception",
    Refusal.NOT_YET_VALID: "access is not valid yet: please see reception",
    Refusal.PIN_WRONG: "wrong PIN",
    Refusal.ANTI_PASSBACK: "entry already recorded: please use the exit first",
    Refusal.LOCKDOWN: "the door is locked down",
}


@dataclass(frozen=True, kw_only=True)
class StageTimings:
    """Where a decision's last frame spent its time, in milliseconds; 0 for a stage
    not run (a challenged frame is detected and embedded, never searched)."""

    detect_ms: float = 0.0
    embed_ms: float = 0.0
    """Alignment, embedding and the quality measurements."""
    search_ms: float = 0.0


@dataclass(frozen=True, kw_only=True)
class AccessDecision:
    """One access decision, made once where it happens and read by every consumer:
    the store and the spool, the screen, the JSON log, the metrics.

    ``display_name`` is set on a grant only: for the screen, and for the JSON log and
    the integrations where a setting allows names; the store and the spool keep the
    person's id, never the name.

    Raises ValueError for a record no consumer could use: a moment without its time
    zone (the door controller ages a grant by it), a latency that is negative or not
    finite, a similarity that is not finite, or a refusal given with an outcome other
    than REFUSED (or missing with REFUSED).
    """

    kiosk_id: str
    outcome: AccessOutcome
    latency_ms: float
    """From the first frame of this face to the decision (ms)."""
    person_id: uuid.UUID | None = None
    """The matched person; kept for a failed liveness check too (whose face was shown)."""
    display_name: str | None = None
    similarity: float | None = None
    """Cosine similarity of the best candidate, -1..1; None when nothing was searched."""
    reason: str | None = None
    """Why the door refused, in a few plain words; None for a grant."""
    refusal: Refusal | None = None
    """Which rule refused a recognised person; set exactly when ``outcome`` is REFUSED."""
    timings: StageTimings = field(default_factory=StageTimings)
    source: DecisionSource = DecisionSource.DOOR
    duress: bool = False
    """The person typed their duress PIN: granted like the right PIN (or refused as the
    rules say), with a silent alarm for the consumers and a ``door.duress`` audit event.
    Spooled, but neither stored with the access event nor in its hash: the audit event
    is the lasting record."""
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    """Given here, where the decision happens: the same decision sent twice is stored once."""
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        # Checked on the record itself, not only in access_decision: a record made
        # elsewhere (the spool's reader, a test, a later front end) reaches the door's
        # thread and the store just the same.
        if self.occurred_at.utcoffset() is None:
            raise ValueError(f"occurred_at {self.occurred_at} has no time zone")
        if not math.isfinite(self.latency_ms) or self.latency_ms < 0:
            raise ValueError(f"latency_ms {self.latency_ms} is not a time of 0 ms or more")
        if self.similarity is not None and not math.isfinite(self.similarity):
            raise ValueError(f"similarity {self.similarity} is not a number")
        if (self.refusal is None) is (self.outcome is AccessOutcome.REFUSED):
            raise ValueError(f"a {self.outcome.value} decision with refusal {self.refusal}")

    @property
    def granted(self) -> bool:
        return self.outcome is AccessOutcome.GRANTED


def access_decision(
    *,
    kiosk_id: str,
    outcome: AccessOutcome,
    latency_ms: float,
    match: Candidate | None = None,
    similarity: float | None = None,
    timings: StageTimings | None = None,
    source: DecisionSource = DecisionSource.DOOR,
    refusal: Refusal | None = None,
    reason: str | None = None,
    duress: bool = False,
) -> AccessDecision:
    """The decision for ``outcome``: the name only on a grant, the refusal's reason
    otherwise (``reason`` in its place if given), and the match's similarity unless
    ``similarity`` is given; ``duress``: made on a duress PIN.

    Raises ValueError when ``refusal`` is given with an outcome other than REFUSED,
    or missing with REFUSED."""
    if (refusal is None) is (outcome is AccessOutcome.REFUSED):
        raise ValueError(f"a {outcome.value} decision with refusal {refusal}")
    granted = outcome is AccessOutcome.GRANTED
    if reason is None and not granted:
        reason = REFUSAL_TEXT[refusal] if refusal is not None else REFUSAL_REASONS[outcome]
    return AccessDecision(
        kiosk_id=kiosk_id,
        outcome=outcome,
        latency_ms=latency_ms,
        person_id=match.person_id if match is not None else None,
        display_name=match.display_name if match is not None and granted else None,
        similarity=similarity if similarity is not None or match is None else match.similarity,
        reason=reason,
        refusal=refusal,
        timings=timings or StageTimings(),
        source=source,
        duress=duress,
    )


@dataclass(frozen=True)
class OperatorSummary:
    username: str
    role: Role
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class Deletion:
    person_id: uuid.UUID
    templates_deleted: int
    consents_withdrawn: int
