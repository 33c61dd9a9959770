"""The access rules on the operator screens: the Access rules page (and its edits),
the groups the enrollment wizard and the People page offer, and each person's
access and PINs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from functools import cache

from core.accounts.permissions import Permission
from core.errors import InvalidValue
from core.people.pins import PinKind, PinService, pin_set_text
from core.records import Operator
from core.rules.model import AccessGroup, Validity, door_zone_names
from core.rules.rule_edits import RuleEdit
from core.rules.rule_set import RulesChange, RuleSet
from core.rules.rules_store import RulesStore
from kiosk.doors_page import DoorsPage
from kiosk.operator_actions import OperatorActions
from kiosk.people_page import PeoplePage, SetAccess
from kiosk.pin_editor import KIND_WORDS, ChangePin
from kiosk.rule_form import Reply
from kiosk.rules_page import AccessRulesPage

GroupsShown = Callable[[Iterable[AccessGroup]], None]


class AccessScreens:
    """One per login, for the pages that login built. Every store call goes through
    ``actions`` (off the GUI thread, as the operator); the store checks each
    permission again, and whose access an enroller may change."""

    def __init__(
        self,
        actions: OperatorActions,
        rules: RulesStore,
        allowed: frozenset[Permission],
        pins: PinService | None = None,
    ) -> None:
        """``pins``: the service ``kiosk-admin people pin`` uses; None: no PIN tab."""
        self._actions = actions
        self._rules = rules
        self._allowed = allowed
        self._pins = pins
        self._group_lists: list[GroupsShown] = []
        self.page: AccessRulesPage | None = None

    def rules_page(self) -> AccessRulesPage | None:
        """The Access rules page, or None if the role may see neither doors nor rules."""
        doors = None
        if Permission.VIEW_DOORS in self._allowed:
            doors = DoorsPage(
                self._actions,
                self._rules,
                time_zones(),
                may_edit=Permission.EDIT_RULES in self._allowed,
            )
        reads = Permission.READ_RULES in self._allowed
        if doors is None and not reads:
            return None
        edits = Permission.EDIT_RULES in self._allowed
        self.page = AccessRulesPage(
            doors, self.load if reads else None, self.submit_edit if reads and edits else None
        )
        return self.page

    def submit_edit(self, what: str, edit: RuleEdit, done: Reply, failed: Reply) -> None:
        """Apply ``edit`` to the stored rules as they are then (EDIT_RULES, audited as
        ``rules.edited``), then read the rules again for every page."""

        def work(operator: Operator) -> RulesChange:
            try:
                return self._rules.edit_rule_set(edit, actor=operator, what=what)
            except ValueError as error:  # RuleSetError: the one line the operator sees
                raise InvalidValue(str(error)) from error

        def applied(_: RulesChange) -> None:
            done(what)
            self.refresh()

        self._actions.run(work, applied, failed)

    def offer_groups(self, show: GroupsShown) -> None:
        """Hand ``show`` the site's groups each time the rules are read."""
        self._group_lists.append(show)

    def refresh(self) -> None:
        """Read the doors and the rules afresh, for every page that shows them."""
        if self.page is not None:
            self.page.refresh()  # which calls load()
        else:
            self.load()

    def load(self) -> None:
        """Read the rule set, for the page and the group lists (READ_RULES)."""
        if Permission.READ_RULES in self._allowed:
            failed = self.page.show_error if self.page is not None else None
            self._actions.run(lambda op: self._rules.rule_set(actor=op), self._loaded, failed)

    def show_person_access(self, person_id: uuid.UUID, page: PeoplePage) -> None:
        def read(operator: Operator) -> tuple[uuid.UUID, frozenset[str], Validity]:
            return (person_id, *self._rules.person_access(person_id, actor=operator))

        self._actions.run(read, lambda found: page.show_access(*found), page.show_access_error)

    def access_setter(self, page: Callable[[], PeoplePage]) -> SetAccess | None:
        """What the People page calls to save a person's access; None if the role may not."""
        if Permission.ASSIGN_ACCESS not in self._allowed:
            return None

        def set_access(person_id: uuid.UUID, groups: tuple[str, ...], validity: Validity) -> None:
            self._actions.run(
                lambda op: self._rules.set_person_access(
                    person_id, actor=op, groups=frozenset(groups), validity=validity
                ),
                lambda _: page().show_access_saved(person_id),
                lambda message: page().show_access_error(message),
            )

        return set_access

    def pin_changer(self, page: Callable[[], PeoplePage]) -> ChangePin | None:
        """What the People page calls to set or clear a PIN; None if the role may not.
        The PIN goes to the service and nowhere else: not into a message or a log."""
        if self._pins is None or Permission.ASSIGN_ACCESS not in self._allowed:
            return None
        pins = self._pins

        def change(person_id: uuid.UUID, kind: PinKind, pin: str | None) -> None:
            words = KIND_WORDS[kind]

            def work(operator: Operator) -> str:
                if pin is None:
                    had = pins.clear_pin(operator, person_id, kind)
                    return f"{words} cleared" if had else f"there was no {words} to clear"
                return pin_set_text(kind, pins.set_pin(operator, person_id, pin, kind))

            def failed(message: str) -> None:
                if (editor := page().pins) is not None:
                    editor.show_error(person_id, message)

            def done(text: str) -> None:
                if (editor := page().pins) is not None:
                    editor.show_done(person_id, text)

            self._actions.run(work, done, failed)

        return change

    def _loaded(self, rules: RuleSet) -> None:
        if self.page is not None:
            self.page.show_rules(rules)
        for show in self._group_lists:
            show(rules.groups)


@cache
def time_zones() -> list[str]:
    """Every IANA time zone name of a place this machine knows, sorted (read once)."""
    return sorted(door_zone_names())
