"""Viewing people, withdrawing consent, deleting, and the retention purge."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.accounts.permissions import Permission, authorize
from core.people.retention import retention_deadline
from core.records import Deletion, Operator, PersonDetail, PersonSummary
from core.settings import SecuritySettings
from core.store import IdentityStore


@dataclass(frozen=True)
class PersonView:
    detail: PersonDetail
    retention_deadline: datetime | None
    """When the purge will delete them unless recognised before; None once deleted."""


class PeopleService:
    def __init__(self, store: IdentityStore, policy: SecuritySettings) -> None:
        self._store = store
        self._retention = timedelta(days=policy.retention_days)
        self._purge_batch = policy.purge_batch_people

    def find(
        self,
        actor: Operator,
        search: str | None,
        limit: int,
        *,
        lacking_model: str | None = None,
    ) -> list[PersonSummary]:
        """``lacking_model``: only people with templates, none of that model, who must be
        re-enrolled to be recognised with it."""
        authorize(actor, Permission.VIEW_PEOPLE, self._store)
        return self._store.people(search, limit, actor=actor, lacking_model=lacking_model)

    def show(self, actor: Operator, person_id: uuid.UUID) -> PersonView:
        authorize(actor, Permission.VIEW_PEOPLE, self._store)
        detail = self._store.person(person_id, actor=actor)
        if detail.deleted_at is not None:
            return PersonView(detail, None)
        deadline = retention_deadline(
            detail.last_recognized_at, detail.summary.created_at, self._retention
        )
        return PersonView(detail, deadline)

    def withdraw_consent(self, actor: Operator, person_id: uuid.UUID) -> Deletion:
        authorize(actor, Permission.WITHDRAW_CONSENT, self._store)
        return self._store.withdraw_consent(person_id, actor)

    def delete(self, actor: Operator, person_id: uuid.UUID) -> Deletion:
        authorize(actor, Permission.DELETE_PEOPLE, self._store)
        return self._store.delete_person(person_id, actor)

    def purge_expired(self, actor: Operator) -> list[uuid.UUID]:
        authorize(actor, Permission.PURGE_EXPIRED, self._store)
        return self._store.purge_expired(self._retention, actor, self._purge_batch)
