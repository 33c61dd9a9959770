"""Changing an enrolled person's name or badge number (the external reference)."""

from __future__ import annotations

import uuid
from typing import Protocol

from core.accounts.permissions import Permission, authorize
from core.enrollment.names import clean_display_name, clean_external_ref
from core.errors import InvalidValue
from core.records import Operator
from core.rules.person_validity import KEEP, Keep
from core.store import DenialLog


class PersonDetailsStore(DenialLog, Protocol):
    def change_details(
        self,
        person_id: uuid.UUID,
        *,
        actor: Operator,
        display_name: str | Keep,
        external_ref: str | Keep | None,
    ) -> None:
        """Set the name and/or badge of an active person in one transaction, audited as
        ``person.details_changed`` naming the fields, never their values. Admins, or
        the enroller who witnessed the person's consent (as for their access). Raises
        NotFound, NotAllowed, AlreadyEnrolled (the badge is someone else's)."""
        ...


class PersonDetailsService:
    def __init__(self, store: PersonDetailsStore) -> None:
        self._store = store

    def change(
        self,
        actor: Operator,
        person_id: uuid.UUID,
        *,
        display_name: str | Keep = KEEP,
        external_ref: str | Keep | None = KEEP,
    ) -> None:
        """``external_ref`` None or blank removes the badge. Raises InvalidValue (a bad
        name or badge, or nothing to change) and as the store does."""
        authorize(actor, Permission.ASSIGN_ACCESS, self._store)
        name = display_name if isinstance(display_name, Keep) else clean_display_name(display_name)
        badge = external_ref if isinstance(external_ref, Keep) else clean_external_ref(external_ref)
        if isinstance(name, Keep) and isinstance(badge, Keep):
            raise InvalidValue("nothing to change: give a name or a badge")
        self._store.change_details(person_id, actor=actor, display_name=name, external_ref=badge)
