"""What the operator accounts need from persistent storage; ``storage`` implements it.

Each method is one transaction: it commits whole or not at all.
"""

from __future__ import annotations

from typing import Protocol

from core.accounts.login_throttle import LoginGate
from core.records import Operator, OperatorSummary, Role
from core.settings import SecuritySettings
from core.store import DenialLog


class OperatorStore(DenialLog, Protocol):
    def add_first_operator(self, username: str, password_hash: str, role: Role) -> Operator:
        """Create the first operator; raise NotAllowed if any operator exists."""
        ...

    def add_operator(
        self, username: str, password_hash: str, role: Role, actor: Operator
    ) -> Operator: ...

    def find_operator(self, username: str) -> Operator | None: ...

    def operators(self) -> list[OperatorSummary]: ...

    def update_operator(
        self,
        username: str,
        actor: Operator,
        action: str,
        *,
        password_hash: str | None = None,
        role: Role | None = None,
        disabled: bool | None = None,
    ) -> None:
        """Raise NotFound if there is no such operator; audited as ``action``."""
        ...

    def login_gate(self, username: str, kiosk_id: str) -> LoginGate: ...

    def record_login_failure(
        self, username: str, kiosk_id: str, policy: SecuritySettings
    ) -> LoginGate:
        """Count a failure for the username and the kiosk, locking per policy; the
        failure and any lock are audited (an unknown username never verbatim)."""
        ...

    def record_login_success(self, username: str, kiosk_id: str) -> None:
        """Reset the username's failures; audited as a login at ``kiosk_id``."""
        ...
