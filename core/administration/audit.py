"""Reading the audit and access logs, verifying their chains, re-anchoring them."""

from __future__ import annotations

import logging

from core.accounts.permissions import Permission, authorize
from core.administration.chains import (
    GENESIS_HASH,
    AnchorPoint,
    BrokenLink,
    Chain,
    ChainReport,
    LogsReport,
    chain_hash,
    verify_access_chain,
    verify_chain,
)
from core.errors import InvalidValue, NotAllowed, StoreError
from core.log_records import (
    AccessEntry,
    AnchorReading,
    AnchorStatus,
    AuditEntry,
    ChainHead,
    LogFilter,
)
from core.records import Operator
from core.service_settings import SecuritySettings
from core.store import AuditLog

__all__ = [
    "GENESIS_HASH",
    "MAX_LOG_ROWS",
    "AuditService",
    "BrokenLink",
    "ChainReport",
    "LogsReport",
    "chain_hash",
    "verify_chain",
]

log = logging.getLogger(__name__)
MAX_LOG_ROWS = 10_000
_ANYTHING = LogFilter()


class AuditService:
    """Reading and verifying the logs; auditors and admins only (re-anchoring: admins)."""

    def __init__(self, log: AuditLog, security: SecuritySettings | None = None) -> None:
        self._log = log
        self._clock_step_s = (security or SecuritySettings()).audit_clock_step_s

    def events(self, actor: Operator, limit: int, only: LogFilter = _ANYTHING) -> list[AuditEntry]:
        authorize(actor, Permission.READ_AUDIT, self._log)
        return self._log.audit_events(_checked_limit(limit), _checked(only), actor=actor)

    def access_events(
        self, actor: Operator, limit: int, only: LogFilter = _ANYTHING
    ) -> list[AccessEntry]:
        authorize(actor, Permission.READ_ACCESS_LOG, self._log)
        return self._log.access_events(_checked_limit(limit), _checked(only), actor=actor)

    def verify(self, actor: Operator) -> LogsReport:
        """Both chains, link by link, and each head against the anchor kept here."""
        authorize(actor, Permission.VERIFY_AUDIT, self._log)
        report = self._verify(actor)
        if not report.intact:
            # Kept in the log every kiosk reads, so each raises the alert (issue 24); a
            # database that cannot take it does not hide the report from the operator.
            try:
                self._log.record_verify_failure(actor, report.problems)
            except StoreError as error:
                log.error("the failed verify was not audited: %s", error)
        return report

    def reanchor(self, actor: Operator) -> LogsReport:
        """Anchor the chains as they are now, after a failed verify was dealt with
        (docs/security.md). Refused while a link is broken: a new anchor cannot make
        a changed row whole. Returns the check made before re-anchoring."""
        authorize(actor, Permission.REANCHOR_AUDIT, self._log)
        before = self._verify(actor)
        for report in (before.audit, before.access):
            if report.broken is not None and not report.broken.against_anchor:
                raise NotAllowed(
                    f"cannot re-anchor: {report.broken}; restore the database from a backup "
                    "that verifies, then re-anchor"
                )
        details: dict[str, object] = {
            "previous_anchor": before.anchor.status.value,
            **{
                report.chain.value: {
                    "expected": _head(report.expected),
                    "found": _head(report.end),
                    "problem": str(report.broken) if report.broken else None,
                }
                for report in (before.audit, before.access)
            },
        }
        self._log.replace_anchor(
            {Chain.AUDIT.value: before.audit.end, Chain.ACCESS.value: before.access.end},
            actor,
            details,
        )
        return before

    def _verify(self, actor: Operator) -> LogsReport:
        # The anchor first: nothing committed is unknown to it, so chains read after
        # it hold at least what it vouches for, and whatever was appended since.
        anchor = self._log.anchored_heads()
        audit = verify_chain(
            self._log.audit_chain(actor=actor), self._point(anchor, Chain.AUDIT, True)
        )
        access = verify_access_chain(
            self._log.access_chain(actor=actor), self._point(anchor, Chain.ACCESS, False)
        )
        return LogsReport(audit, access, anchor)

    def _point(self, anchor: AnchorReading, chain: Chain, dated: bool) -> AnchorPoint | None:
        """``dated``: the database dates the chain's events as they are added (audit
        events); a door decision keeps the moment it was made, spooled or not."""
        anchored = anchor.chains.get(chain.value)
        if anchor.status is not AnchorStatus.ANCHORED or anchored is None:
            return None
        return AnchorPoint(
            anchored,
            anchor.log_heads.get(chain.value) if anchor.sole_writer else None,
            self._clock_step_s if dated else None,
            chain.value in anchor.pending_committed,
        )


def _head(head: ChainHead | None) -> dict[str, object] | None:
    return None if head is None else {"count": head.count, "hash": head.hash}


def _checked_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LOG_ROWS:
        raise InvalidValue(f"limit {limit} is out of range; give 1 to {MAX_LOG_ROWS}")
    return limit


def _checked(only: LogFilter) -> LogFilter:
    for moment in (only.since, only.until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidValue("a time filter needs a time zone")
    if only.since is not None and only.until is not None and only.since >= only.until:
        raise InvalidValue(
            f"the window from {only.since:%Y-%m-%d %H:%M} to {only.until:%Y-%m-%d %H:%M} "
            "is empty; the start must come before the end"
        )
    for name in ("actor", "action", "kiosk_id"):
        value = getattr(only, name)
        if value is not None and (not value or len(value) > 64 or not value.isprintable()):
            raise InvalidValue(f"the {name} filter must be 1 to 64 printable characters")
    return only
