"""Settings (admins only): the values kept in the database, saved and audited."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.administration.shared_settings import (
    EDITABLE,
    Scope,
    SettingChange,
    SettingsService,
    parse_assignment,
    value_of,
    with_overrides,
)
from core.errors import ConfigurationError, InvalidValue
from core.records import Operator
from core.settings import Settings
from frames.sources import source_from_spec
from kiosk.operator_actions import OperatorActions
from kiosk.widgets import MessageLabel, SideBySide


class SettingsPage(QWidget):
    """One field per editable setting. Saving stores only what changed, and the
    kiosk applies the new values at once; a value pinned on the command line is
    shown but not editable here."""

    def __init__(
        self,
        actions: OperatorActions,
        service: SettingsService,
        current: Settings,
        pinned: Mapping[str, Any],
        applied: Callable[[Settings], None],
    ) -> None:
        super().__init__()
        self._actions = actions
        self._service = service
        self._current = current
        self._pinned = pinned
        self._applied = applied
        self.fields: dict[str, QLineEdit] = {}
        boxes = {
            Scope.ALL_KIOSKS: QGroupBox("Every kiosk on this database"),
            Scope.THIS_KIOSK: QGroupBox(f"This kiosk ({current.kiosk_id})"),
        }
        forms = {scope: _form(box) for scope, box in boxes.items()}
        for setting in EDITABLE:
            field = QLineEdit()
            if setting.key in pinned:
                field.setEnabled(False)
                field.setToolTip("set on this kiosk's command line, which wins")
            forms[setting.scope].addRow(setting.label, field)
            self.fields[setting.key] = field
        self.save = QPushButton("Save settings")
        self.message = MessageLabel()
        explained = QLabel(
            "Changes apply at once and are recorded in the audit log with the old and new "
            "values. A value set on this kiosk's command line wins, and is greyed out here."
        )
        explained.setWordWrap(True)
        explained.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(explained)
        layout.addWidget(SideBySide(list(boxes.values())))
        layout.addWidget(self.message)
        layout.addWidget(self.save, alignment=Qt.AlignmentFlag.AlignRight)
        layout.addStretch(1)
        self.save.clicked.connect(self._save)
        self.show_settings(current)

    def show_settings(self, settings: Settings) -> None:
        self._current = settings
        for key, field in self.fields.items():
            field.setText(str(value_of(settings, key)))

    def _save(self) -> None:
        try:
            values = dict(
                parse_assignment(f"{key}={field.text()}", self._current)
                for key, field in self.fields.items()
                if key not in self._pinned
                and field.text().strip() != str(value_of(self._current, key))
            )
            checked = with_overrides(self._current, values)  # every bound, before the store
            if "camera.source" in values:  # this kiosk's camera: check it is one here
                source_from_spec(checked.camera, checked.images)
        except (InvalidValue, ConfigurationError) as error:
            self.message.show_error(str(error))
            return
        if not values:
            self.message.show_notice("nothing changed")
            return
        self.save.setEnabled(False)  # until the store answers

        def change(operator: Operator) -> tuple[list[SettingChange], Settings]:
            changes = self._service.change(operator, values)
            return changes, with_overrides(self._service.effective(), self._pinned)

        self._actions.run(change, self._saved, self._failed)

    def _saved(self, result: tuple[list[SettingChange], Settings]) -> None:
        changes, settings = result
        self.save.setEnabled(True)
        self.show_settings(settings)
        self.message.show_notice(
            "saved and applied: " + "; ".join(f"{c.key} {c.old} -> {c.new}" for c in changes)
        )
        self._applied(settings)

    def _failed(self, message: str) -> None:
        self.save.setEnabled(True)
        self.message.show_error(message)


def _form(box: QGroupBox) -> QFormLayout:
    form = QFormLayout(box)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return form
