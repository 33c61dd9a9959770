"""Door (admins and auditors): every kiosk's door as last reported, stale reports and
failed unlocks marked; admins lock this kiosk's door down, release it, or unlock it
for a stated time, with a reason."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.access.door_commands import (
    MAX_REASON,
    DoorCommandKind,
    DoorCommandService,
    DoorReport,
    last_heard,
)
from core.door_io_settings import DoorIoSettings
from kiosk.operator_actions import OperatorActions
from kiosk.widgets import MessageLabel, headed_table, secondary_button

_COLUMNS = ("Kiosk", "Lock", "Door", "Lockdown", "Alarms", "Fault", "Failed unlocks", "Reported")
FAILED_COLUMN = _COLUMNS.index("Failed unlocks")
REPORTED_COLUMN = _COLUMNS.index("Reported")


class DoorPage(QWidget):
    """Commands go through the database like ``kiosk-admin door``'s: this kiosk takes
    them within door_io.operator_poll_s, and each is audited. While shown, the table
    is read again every door_io.door_page_refresh_s (not counted as the operator's
    activity), so a failed unlock or a kiosk gone silent shows without a click."""

    def __init__(
        self,
        actions: OperatorActions,
        service: DoorCommandService,
        kiosk_id: str,
        *,
        may_control: bool,
        settings: DoorIoSettings,
    ) -> None:
        super().__init__()
        self._actions = actions
        self._service = service
        self._kiosk_id = kiosk_id
        self._settings = settings
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(int(settings.door_page_refresh_s * 1000))
        self._refresh_timer.timeout.connect(self._refresh_by_itself)
        self.table = headed_table(_COLUMNS)
        self.refresh_button = secondary_button("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.reason = QLineEdit()
        self.reason.setMaxLength(MAX_REASON)
        self.reason.setPlaceholderText("why (kept in the audit log)")
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(settings.min_operator_unlock_s, settings.max_operator_unlock_s)
        self.seconds.setValue(min(60.0, settings.max_operator_unlock_s))
        self.seconds.setSuffix(" s")
        self.lockdown_button = QPushButton("Lock down")
        self.release_button = QPushButton("Release")
        self.unlock_button = QPushButton("Unlock for")
        self.message = MessageLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, stretch=1)
        layout.addWidget(self.refresh_button, alignment=Qt.AlignmentFlag.AlignLeft)
        if may_control:
            layout.addWidget(QLabel(f"This kiosk's door ({kiosk_id}):"))
            form = QFormLayout()
            form.addRow("Reason", self.reason)
            layout.addLayout(form)
            buttons = QHBoxLayout()
            buttons.addWidget(self.lockdown_button)
            buttons.addWidget(self.release_button)
            buttons.addWidget(self.unlock_button)
            buttons.addWidget(self.seconds)
            buttons.addStretch(1)
            layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.lockdown_button.clicked.connect(lambda: self._send(DoorCommandKind.LOCKDOWN))
        self.release_button.clicked.connect(lambda: self._send(DoorCommandKind.RELEASE))
        self.unlock_button.clicked.connect(lambda: self._send(DoorCommandKind.UNLOCK))

    def refresh(self) -> None:
        self._actions.run(self._service.reports, self._show_reports, self.message.show_error)

    def _refresh_by_itself(self) -> None:
        self._actions.run(
            self._service.reports, self._show_reports, self.message.show_error, activity=False
        )

    def showEvent(self, event: QShowEvent) -> None:
        self._refresh_timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._refresh_timer.stop()
        super().hideEvent(event)

    def _send(self, kind: DoorCommandKind) -> None:
        reason = self.reason.text()
        seconds = self.seconds.value() if kind is DoorCommandKind.UNLOCK else None
        what = f"unlock for {seconds:g} s" if seconds is not None else kind.value

        def sent(_command_id: int) -> None:
            self.message.show_notice(f"{what} sent to {self._kiosk_id}")
            self.reason.clear()

        self._actions.run(
            lambda operator: self._service.request(
                operator, kiosk_id=self._kiosk_id, kind=kind, reason=reason, seconds=seconds
            ),
            sent,
            self.message.show_error,
        )

    def _show_reports(self, reports: list[DoorReport]) -> None:
        self.table.setRowCount(len(reports))
        for row, report in enumerate(reports):
            cells = (
                report.kiosk_id,
                "unlocked" if report.unlocked else "locked",
                "-" if report.door_open is None else ("open" if report.door_open else "closed"),
                "LOCKDOWN" if report.lockdown else "",
                ", ".join(report.alarms),
                report.fault or "",
                self._failed_unlocks(report),
                self._reported(report),
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _failed_unlocks(self, report: DoorReport) -> str:
        if not report.failed_unlocks or report.last_failed_unlock_at is None:
            return ""
        hours = self._settings.failed_unlocks_shown_s / 3600
        last = report.last_failed_unlock_at.astimezone()
        return f"{report.failed_unlocks} in {hours:g} h, last {last:%H:%M:%S}"

    def _reported(self, report: DoorReport) -> str:
        if report.stopped and report.reported_at is not None:
            return f"STOPPED at {report.reported_at.astimezone():%H:%M:%S}"
        if report.age_s is not None and report.is_stale(self._settings):
            return f"STALE: {last_heard(report.age_s)}"
        return f"{report.reported_at.astimezone():%H:%M:%S}" if report.reported_at else ""
