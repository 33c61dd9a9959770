"""The audit log and access decisions, filtered, with the chain check."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.accounts.permissions import ROLE_PERMISSIONS, Permission
from core.administration.audit import AuditService, LogsReport
from core.log_records import AccessEntry, AuditEntry, LogFilter
from core.records import AccessOutcome, Refusal, Role
from kiosk.operator_actions import OperatorActions
from kiosk.widgets import (
    EmptyState,
    MessageLabel,
    TableOrEmpty,
    fill_table,
    headed_table,
    secondary_button,
)

ROWS_SHOWN = 500
AUDIT_COLUMNS = ("When", "Operator", "Action", "Target")
ACCESS_COLUMNS = ("When", "Door", "Decision", "Similarity", "Why refused")
NO_AUDIT_EVENTS = "No audit events match"
NO_ACCESS_DECISIONS = "No access decisions match"
_CLEAR_HINT = "Change the filters, or clear them, and apply them again."
# The tables keep this much height on a 800x480 screen: a few rows each.
_TABS_MIN_PX = 220
# Families of audit actions, for the action filter; any exact action can be typed.
ACTION_FAMILIES = (
    "",
    "person.",
    "operator.",
    "login.",
    "permission.",
    "settings.",
    "audit.",
    "door.",
    "rules.",
)
# Which rule refused, for operators: plainer and fuller than the door screen's words,
# which a stranger reads (core.records.REFUSAL_TEXT).
REFUSAL_WORDS: dict[Refusal, str] = {
    Refusal.NO_GROUP_FOR_DOOR: "none of their groups may use this door",
    Refusal.OUTSIDE_SCHEDULE: "outside their groups' hours at this door",
    Refusal.HOLIDAY: "a holiday or closure day at this door",
    Refusal.EXPIRED: "their validity has ended",
    Refusal.NOT_YET_VALID: "their validity has not begun",
    Refusal.PIN_WRONG: "wrong PIN",
    Refusal.ANTI_PASSBACK: "entered again without leaving (anti-passback)",
    Refusal.LOCKDOWN: "the door was locked down",
}


class AuditPage(QWidget):
    """Filters over two tabs, the audit log and the access decisions (newest first,
    at most ROWS_SHOWN of each), and the check of both chains."""

    def __init__(self, actions: OperatorActions, audit: AuditService, role: Role) -> None:
        super().__init__()
        self._actions = actions
        self._audit = audit
        allowed = ROLE_PERMISSIONS[role]
        self.since_on, self.since = _moment_filter("From", days_ago=1)
        self.until_on, self.until = _moment_filter("Until", days_ago=0)
        self.actor = QLineEdit()
        self.actor.setPlaceholderText("any operator")
        self.action = QComboBox()
        self.action.setEditable(True)
        self.action.addItems(ACTION_FAMILIES)
        self.action.setPlaceholderText("any action")
        self.outcome = QComboBox()
        self.outcome.addItem("any decision", None)
        for outcome in AccessOutcome:
            self.outcome.addItem(outcome.value, outcome.value)  # Qt keeps a StrEnum as str
        apply = QPushButton("Apply filters")
        filters = QGridLayout()
        filters.addWidget(self.since_on, 0, 0)
        filters.addWidget(self.since, 0, 1)
        filters.addWidget(self.until_on, 0, 2)
        filters.addWidget(self.until, 0, 3)
        filters.addWidget(QLabel("Operator"), 1, 0)
        filters.addWidget(self.actor, 1, 1)
        filters.addWidget(QLabel("Action"), 1, 2)
        filters.addWidget(self.action, 1, 3)
        filters.addWidget(QLabel("Decision"), 2, 0)
        filters.addWidget(self.outcome, 2, 1)
        filters.addWidget(apply, 2, 3)
        self.audit = headed_table(AUDIT_COLUMNS)
        self.access = headed_table(ACCESS_COLUMNS)
        self.no_audit = EmptyState("audit", NO_AUDIT_EVENTS, _CLEAR_HINT)
        self.no_access = EmptyState("door", NO_ACCESS_DECISIONS, _CLEAR_HINT)
        self.audit_list = TableOrEmpty(self.audit, self.no_audit)
        self.access_list = TableOrEmpty(self.access, self.no_access)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.audit_list, "Audit log")
        self.tabs.addTab(self.access_list, "Access decisions")
        self.tabs.setMinimumHeight(_TABS_MIN_PX)
        self.chain = QLabel("")
        self.chain.setWordWrap(True)
        self.message = MessageLabel()
        self.verify_button = secondary_button("Check the audit and access chains")
        self.verify_button.setVisible(Permission.VERIFY_AUDIT in allowed)
        buttons = QHBoxLayout()
        buttons.addWidget(self.verify_button)
        buttons.addWidget(self.chain, stretch=1)
        shown = QLabel(f"Newest first, at most {ROWS_SHOWN} of each.")
        shown.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, stretch=1)
        layout.addWidget(shown)
        layout.addLayout(buttons)
        apply.clicked.connect(self.refresh)
        self.verify_button.clicked.connect(self._verify)

    def current_filter(self) -> LogFilter:
        action = self.action.currentText().strip()
        return LogFilter(
            since=_when(self.since) if self.since_on.isChecked() else None,
            until=_when(self.until) if self.until_on.isChecked() else None,
            actor=self.actor.text().strip().lower() or None,
            action=action or None,
            outcome=AccessOutcome(outcome) if (outcome := self.outcome.currentData()) else None,
        )

    def refresh(self) -> None:
        self.message.clear_message()
        only = self.current_filter()
        self._actions.run(
            lambda op: self._audit.events(op, ROWS_SHOWN, only), self.show_audit, self._failed
        )
        self._actions.run(
            lambda op: self._audit.access_events(op, ROWS_SHOWN, only),
            self.show_access,
            self._failed,
        )

    def show_audit(self, events: list[AuditEntry]) -> None:
        fill_table(
            self.audit,
            [(_local(e.occurred_at), e.actor, e.action, e.target or "") for e in events],
        )
        self.audit_list.show_rows(bool(events))

    def show_access(self, events: list[AccessEntry]) -> None:
        fill_table(
            self.access,
            [
                (
                    _local(e.occurred_at),
                    e.kiosk_id,
                    e.outcome.value,
                    f"{e.similarity:.2f}" if e.similarity is not None else "",
                    refusal_words(e.refusal) if e.refusal is not None else "",
                )
                for e in events
            ],
        )
        self.access_list.show_rows(bool(events))

    def show_chain(self, report: LogsReport) -> None:
        if report.intact:
            self.chain.setText("Audit chain intact. " + " ".join(f"{s}." for s in report.summary()))
        else:
            self.chain.setText(
                f"Audit chain BROKEN: {'; '.join(report.problems)}. See docs/security.md."
            )

    def _verify(self) -> None:
        self._actions.run(self._audit.verify, self.show_chain, self._failed)

    def _failed(self, message: str) -> None:
        self.message.show_error(message)


def refusal_words(refusal: Refusal) -> str:
    """Why a recognised person was refused, in plain words, for the operator."""
    return REFUSAL_WORDS.get(refusal, refusal.value.replace("_", " "))


def _moment_filter(label: str, days_ago: int) -> tuple[QCheckBox, QDateTimeEdit]:
    enabled = QCheckBox(label)
    edit = QDateTimeEdit(QDateTime.currentDateTime().addDays(-days_ago))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd HH:mm")
    edit.setEnabled(False)
    enabled.toggled.connect(edit.setEnabled)
    return enabled, edit


def _when(edit: QDateTimeEdit) -> datetime:
    return datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch()).astimezone()


def _local(moment: datetime) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M:%S}"
