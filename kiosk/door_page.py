"""Door (admins and auditors): every kiosk's door as last reported; admins lock this
kiosk's door down, release it, or unlock it for a stated time, with a reason."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.access.door_commands import MAX_REASON, DoorCommandKind, DoorCommandService, DoorReport
from kiosk.operator_actions import OperatorActions
from kiosk.widgets import MessageLabel, secondary_button, title_label

_COLUMNS = ("Kiosk", "Lock", "Door", "Lockdown", "Alarms", "Fault", "Reported")


class DoorPage(QWidget):
    """Commands go through the database like ``kiosk-admin door``'s: this kiosk takes
    them within door_io.operator_poll_s, and each is audited."""

    def __init__(
        self,
        actions: OperatorActions,
        service: DoorCommandService,
        kiosk_id: str,
        *,
        may_control: bool,
        longest_unlock_s: float,
    ) -> None:
        super().__init__()
        self._actions = actions
        self._service = service
        self._kiosk_id = kiosk_id
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.refresh_button = secondary_button("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.reason = QLineEdit()
        self.reason.setMaxLength(MAX_REASON)
        self.reason.setPlaceholderText("why (kept in the audit log)")
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(1, longest_unlock_s)
        self.seconds.setValue(min(60.0, longest_unlock_s))
        self.seconds.setSuffix(" s")
        self.lockdown_button = QPushButton("Lock down")
        self.release_button = QPushButton("Release")
        self.unlock_button = QPushButton("Unlock for")
        self.message = MessageLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(title_label("Door"))
        layout.addWidget(self.table, stretch=1)
        layout.addWidget(self.refresh_button)
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
                f"{report.reported_at:%H:%M:%S}" if report.reported_at else "",
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
