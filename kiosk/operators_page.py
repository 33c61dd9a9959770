"""Operators (admins only): add, disable or enable, reset a password, change a role."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.accounts.operators import OperatorService
from core.records import OperatorSummary, Role
from kiosk.confirm_sheet import ConfirmSheet
from kiosk.operator_actions import OperatorActions
from kiosk.widgets import (
    MessageLabel,
    SideBySide,
    fill_table,
    headed_table,
    password_field,
    secondary_button,
)

_COLUMNS = ("Username", "Role", "State", "Created")
NOBODY_CHOSEN = "choose one in the table"


class OperatorsPage(QWidget):
    """The operators in a table; under it, a form to add one and a form to change the
    one chosen in the table (its fields only usable once one is chosen). Disabling
    asks first."""

    def __init__(self, actions: OperatorActions, service: OperatorService) -> None:
        super().__init__()
        self._actions = actions
        self._service = service
        self._operators: list[OperatorSummary] = []
        self.table = headed_table(_COLUMNS)
        self.confirm_sheet = ConfirmSheet()
        self.message = MessageLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, stretch=1)
        layout.addWidget(self.message)
        layout.addWidget(SideBySide((self._build_add(), self._build_change())))
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self._selection_changed()

    # --- building ----------------------------------------------------------------------

    def _build_add(self) -> QGroupBox:
        box = QGroupBox("Add an operator")
        self.new_username = QLineEdit()
        self.new_role = _role_choice()
        self.new_password = password_field()
        self.new_password_again = password_field()
        self.add_button = QPushButton("Add operator")
        form = _form(box)
        form.addRow("Username", self.new_username)
        form.addRow("Role", self.new_role)
        form.addRow("Password", self.new_password)
        form.addRow("Again", self.new_password_again)
        form.addRow(self.add_button)
        self.add_button.clicked.connect(self._add)
        return box

    def _build_change(self) -> QGroupBox:
        box = QGroupBox("Change the chosen operator")
        self.selected_label = QLabel("")
        self.role = _role_choice()
        self.set_role_button = secondary_button("Change role")
        self.toggle_button = QPushButton("Disable")
        self.toggle_button.setObjectName("danger")
        self.reset_password = password_field()
        self.reset_password_again = password_field()
        self.reset_button = QPushButton("Reset password")
        role_row = QHBoxLayout()
        role_row.addWidget(self.role, stretch=1)
        role_row.addWidget(self.set_role_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.toggle_button)
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)
        form = _form(box)
        form.addRow("Operator", self.selected_label)
        form.addRow("Role", role_row)
        form.addRow("New password", self.reset_password)
        form.addRow("Again", self.reset_password_again)
        form.addRow(buttons)
        self.set_role_button.clicked.connect(self._set_role)
        self.toggle_button.clicked.connect(self._toggle_disabled)
        self.reset_button.clicked.connect(self._reset_password)
        return box

    # --- showing ----------------------------------------------------------------------

    def refresh(self) -> None:
        self._actions.run(self._service.operators, self.show_operators, self._show_error)

    def show_operators(self, operators: list[OperatorSummary]) -> None:
        selected = self.selected()
        self._operators = operators
        fill_table(
            self.table,
            [
                (
                    op.username,
                    op.role.value,
                    "disabled" if op.disabled else "active",
                    f"{op.created_at:%Y-%m-%d}",
                )
                for op in operators
            ],
        )
        for row, op in enumerate(operators):
            if selected is not None and op.username == selected.username:
                self.table.selectRow(row)
        self._selection_changed()

    def selected(self) -> OperatorSummary | None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        if len(rows) != 1:
            return None
        row = rows.pop()
        return self._operators[row] if row < len(self._operators) else None

    def select(self, username: str) -> None:
        for row, op in enumerate(self._operators):
            if op.username == username:
                self.table.selectRow(row)

    def _selection_changed(self) -> None:
        op = self.selected()
        for widget in (
            self.role,
            self.set_role_button,
            self.toggle_button,
            self.reset_password,
            self.reset_password_again,
            self.reset_button,
        ):
            widget.setEnabled(op is not None)
        if op is None:
            self.selected_label.setText(NOBODY_CHOSEN)
            return
        self.selected_label.setText(op.username)
        self.role.setCurrentIndex(self.role.findData(op.role.value))
        self.toggle_button.setText("Enable" if op.disabled else "Disable")

    # --- asking the core ---------------------------------------------------------------

    def _add(self) -> None:
        password = self.new_password.text()
        if password != self.new_password_again.text():
            self._show_error("the two passwords differ; type them again")
            return
        username, role = self.new_username.text(), Role(self.new_role.currentData())

        def added(_: object) -> None:
            for field in (self.new_username, self.new_password, self.new_password_again):
                field.clear()
            self._done(f"operator {username.strip().lower()} added as {role.value}")

        self._actions.run(
            lambda actor: self._service.add(actor, username, role, password),
            added,
            self._show_error,
        )

    def _set_role(self) -> None:
        op, role = self.selected(), Role(self.role.currentData())
        if op is not None:
            self._actions.run(
                lambda actor: self._service.set_role(actor, op.username, role),
                lambda _: self._done(f"{op.username} is now {role.value}"),
                self._show_error,
            )

    def _toggle_disabled(self) -> None:
        op = self.selected()
        if op is None:
            return
        if op.disabled:
            self._set_disabled(op, False)
            return
        self.confirm_sheet.ask(
            self,
            f"Disable {op.username}?",
            "They cannot log in until an admin enables them again, and a session of "
            "theirs that is open now ends at its next action.",
            "Disable",
            lambda: self._set_disabled(op, True),
        )

    def _set_disabled(self, op: OperatorSummary, disable: bool) -> None:
        self._actions.run(
            lambda actor: self._service.set_disabled(actor, op.username, disable),
            lambda _: self._done(f"{op.username} {'disabled' if disable else 'enabled'}"),
            self._show_error,
        )

    def _reset_password(self) -> None:
        op, password = self.selected(), self.reset_password.text()
        if op is None:
            return
        if password != self.reset_password_again.text():
            self._show_error("the two passwords differ; type them again")
            return

        def reset(_: object) -> None:
            self.reset_password.clear()
            self.reset_password_again.clear()
            self._done(f"password of {op.username} reset; tell them in person")

        self._actions.run(
            lambda actor: self._service.reset_password(actor, op.username, password),
            reset,
            self._show_error,
        )

    def _done(self, message: str) -> None:
        self.message.show_notice(message)
        self.refresh()

    def _show_error(self, message: str) -> None:
        self.message.show_error(message)


def _form(box: QGroupBox) -> QFormLayout:
    form = QFormLayout(box)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return form


def _role_choice() -> QComboBox:
    choice = QComboBox()
    for role in Role:
        choice.addItem(role.value, role.value)  # Qt keeps a StrEnum as str
    return choice
