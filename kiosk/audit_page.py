"""The audit log and access decisions, with the chain check."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from core.audit import ChainReport
from core.records import AccessEntry, AuditEntry


class AuditPage(QWidget):
    def __init__(
        self,
        load_audit: Callable[[], None],
        load_access: Callable[[], None],
        verify: Callable[[], None],
    ) -> None:
        super().__init__()
        self.audit = QListWidget()
        self.access = QListWidget()
        self.chain = QLabel("")
        self.chain.setWordWrap(True)
        verify_button = QPushButton("Check the audit chain")
        reload_button = QPushButton("Reload")
        buttons = QHBoxLayout()
        buttons.addWidget(reload_button)
        buttons.addWidget(verify_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Audit log (newest first)"))
        layout.addWidget(self.audit, stretch=2)
        layout.addWidget(QLabel("Access decisions (newest first)"))
        layout.addWidget(self.access, stretch=1)
        layout.addWidget(self.chain)
        layout.addLayout(buttons)
        self._load_audit, self._load_access = load_audit, load_access
        reload_button.clicked.connect(self.refresh)
        verify_button.clicked.connect(verify)

    def refresh(self) -> None:
        self._load_audit()
        self._load_access()

    def show_audit(self, events: list[AuditEntry]) -> None:
        self.audit.clear()
        for e in events:
            self.audit.addItem(
                f"{e.occurred_at:%Y-%m-%d %H:%M:%S}  {e.actor}  {e.action}  {e.target or ''}"
            )

    def show_access(self, events: list[AccessEntry]) -> None:
        self.access.clear()
        for e in events:
            self.access.addItem(
                f"{e.occurred_at:%Y-%m-%d %H:%M:%S}  {e.kiosk_id}  {e.outcome.value}"
                + (f"  {e.similarity:.2f}" if e.similarity is not None else "")
            )

    def show_chain(self, report: ChainReport) -> None:
        if report.broken is None:
            self.chain.setText(f"Audit chain intact: {report.checked} event(s).")
        else:
            self.chain.setText(f"Audit chain BROKEN: {report.broken}.")
