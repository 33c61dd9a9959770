"""The access rules on the operator screens: the Access rules page, the groups the
enrollment wizard and the People page offer, and each person's access."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from functools import cache
from zoneinfo import available_timezones

from core.accounts.permissions import Permission
from core.records import Operator
from core.rules.model import AccessGroup, Validity
from core.rules.rule_set import RuleSet
from core.rules.rules_store import RulesStore
from kiosk.doors_page import DoorsPage
from kiosk.operator_actions import OperatorActions
from kiosk.people_page import PeoplePage, SetAccess
from kiosk.rules_page import AccessRulesPage

GroupsShown = Callable[[Iterable[AccessGroup]], None]


class AccessScreens:
    """One per login, for the pages that login built. Every store call goes through
    ``actions`` (off the GUI thread, as the operator); the store checks each
    permission again, and whose access an enroller may change."""

    def __init__(
        self, actions: OperatorActions, rules: RulesStore, allowed: frozenset[Permission]
    ) -> None:
        self._actions = actions
        self._rules = rules
        self._allowed = allowed
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
        self.page = AccessRulesPage(doors, self.load if reads else None)
        return self.page

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

    def _loaded(self, rules: RuleSet) -> None:
        if self.page is not None:
            self.page.show_rules(rules)
        for show in self._group_lists:
            show(rules.groups)


@cache
def time_zones() -> list[str]:
    """Every IANA time zone name this machine knows, sorted (read once)."""
    return sorted(available_timezones())
