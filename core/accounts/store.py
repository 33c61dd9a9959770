"""What the operator accounts need from persistent storage; ``storage`` implements it.

Each method is one transaction: it commits whole or not at all. A method that
takes an ``actor`` authorizes them against their account as it is in that
transaction (``permissions.authorize_current``), not as it was at login.
"""

from __future__ import annotations

from typing import Protocol

from core.accounts.login_throttle import LoginAttempt
from core.records import Operator, OperatorSummary, Role
from core.settings import SecuritySettings
from core.store import DenialLog


class OperatorStore(DenialLog, Protocol):
    def add_first_operator(self, username: str, password_hash: str, role: Role) -> Operator:
        """Create the first operator; raise NotAllowed if any operator exists."""
        ...

    def add_operator(
        self, username: str, password_hash: str, role: Role, actor: Operator
    ) -> Operator:
        """Raise NotAllowed if ``actor`` may not manage operators now, or the name is taken."""
        ...

    def find_operator(self, username: str) -> Operator | None: ...

    def operators(self, *, actor: Operator) -> list[OperatorSummary]:
        """Every operator; raise NotAllowed if ``actor`` may not manage operators now."""
        ...

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
        """Raise NotFound if there is no such operator; audited as ``action``.

        Disabling, a new role or a new password ends the operator's sessions
        (their session epoch moves on). Only one's own password may be set
        without MANAGE_OPERATORS."""
        ...

    def reserve_login_attempt(
        self, username: str, kiosk_id: str, policy: SecuritySettings
    ) -> LoginAttempt:
        """Count an attempt for the username and the kiosk as a failure, before its
        password is checked, locking (audited) per policy.

        Raises LoginLocked, counting nothing, while either is locked; StoreError
        if the attempt could not be counted (then no password may be checked)."""
        ...

    def record_login_failure(self, attempt: LoginAttempt) -> None:
        """Audit that ``attempt``'s check failed, with its kiosk (an unknown username
        never verbatim). Its count was kept when it was reserved; this only
        records it, in a transaction of its own, and never raises."""
        ...

    def record_login_success(self, attempt: LoginAttempt) -> None:
        """Take back the failure ``attempt`` counted: the username starts afresh;
        audited as a login at ``attempt``'s kiosk."""
        ...
