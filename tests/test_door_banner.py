"""The door screen's banner when a grant's decision and the door's result for it
arrive in either order (two queued signals from two threads): matched by the
access event's id, every order ends the same (kiosk.grant_banner)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator

import pytest
from pytestqt.qtbot import QtBot

from core.records import AccessDecision, AccessOutcome
from kiosk.grant_banner import DoorResult, DoorResultKind
from kiosk.kiosk_screen import (
    DENIED_TEXT,
    DOOR_FAILED_TEXT,
    DOOR_OPEN_TEXT,
    DOOR_REFUSED_TEXT,
    DOOR_UNCONFIRMED_TEXT,
    GRANTED_TEXT,
    KioskScreen,
)

Step = Callable[[KioskScreen], None]


def grant(name: str) -> AccessDecision:
    return AccessDecision(
        kiosk_id="door-north", outcome=AccessOutcome.GRANTED, latency_ms=200, display_name=name
    )


def result_for(decision: AccessDecision, kind: DoorResultKind) -> DoorResult:
    return DoorResult(
        event_id=decision.event_id, kind=kind, seconds=5.0, why="the door is in lockdown"
    )


def interleavings(first: list[Step], second: list[Step]) -> Iterator[list[Step]]:
    """Every merge of two sequences that keeps each one's own order: what two queued
    signals from two threads can do."""
    size = len(first) + len(second)
    for places in itertools.combinations(range(size), len(first)):
        a, b = iter(first), iter(second)
        yield [next(a) if i in places else next(b) for i in range(size)]


@pytest.fixture
def screens(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> Callable[[], tuple[KioskScreen, Callable[[], list[str]]]]:
    """A fresh door screen, and what its banner showed since, in order (the "banner:"
    log lines, names allowed in them for the test)."""

    def new() -> tuple[KioskScreen, Callable[[], list[str]]]:
        screen = KioskScreen(log_person_names=True)
        qtbot.addWidget(screen)
        caplog.clear()
        caplog.set_level(logging.INFO, logger="kiosk.kiosk_screen")

        def shown() -> list[str]:
            return [
                str(r.args[0]) if isinstance(r.args, tuple) else ""
                for r in caplog.records
                if r.name == "kiosk.kiosk_screen" and r.msg == "banner: %s"
            ]

        return screen, shown

    return new


EXPECTED = {
    DoorResultKind.OPEN: f"Bea\n{DOOR_OPEN_TEXT}",
    DoorResultKind.FAILED: DOOR_FAILED_TEXT,
    DoorResultKind.UNCONFIRMED: DOOR_UNCONFIRMED_TEXT,
    DoorResultKind.REFUSED: f"the door is in lockdown\n{DOOR_REFUSED_TEXT}",
}


@pytest.mark.parametrize("kind", list(DoorResultKind))
def test_two_grants_end_on_the_second_one_s_door_result_in_every_order(
    screens: Callable[[], tuple[KioskScreen, Callable[[], list[str]]]], kind: DoorResultKind
) -> None:
    ada, bea = grant("Ada"), grant("Bea")
    decisions: list[Step] = [lambda s: s.show_decision(ada), lambda s: s.show_decision(bea)]
    door: list[Step] = [
        lambda s: s.show_door_result(result_for(ada, kind)),
        lambda s: s.show_door_result(result_for(bea, kind)),
    ]
    orders = list(interleavings(decisions, door))
    assert len(orders) == 6
    for order in orders:
        screen, shown = screens()
        bea_shown_at = 0
        for step in order:
            step(screen)
            if step is decisions[1]:
                bea_shown_at = len(shown())
        assert screen.banner.text() == EXPECTED[kind]
        after_bea = shown()[bea_shown_at - 1 :]
        assert not any("Ada" in text for text in after_bea), shown()
        if kind is DoorResultKind.OPEN:
            opened = after_bea.index(f"Bea {DOOR_OPEN_TEXT}")
            assert f"Bea {GRANTED_TEXT}" not in after_bea[opened:], "granted never covers open"


def test_a_door_result_for_a_grant_the_screen_moved_past_is_dropped(
    screens: Callable[[], tuple[KioskScreen, Callable[[], list[str]]]],
) -> None:
    screen, _shown = screens()
    ada = grant("Ada")
    stranger = AccessDecision(kiosk_id="door-north", outcome=AccessOutcome.UNKNOWN, latency_ms=1)
    screen.show_decision(ada)
    screen.show_decision(stranger)
    screen.show_door_result(result_for(ada, DoorResultKind.OPEN))
    assert screen.banner.text() == DENIED_TEXT


def test_a_door_result_after_the_banner_went_idle_still_shows(
    screens: Callable[[], tuple[KioskScreen, Callable[[], list[str]]]],
) -> None:
    screen, _shown = screens()
    ada = grant("Ada")
    screen.show_decision(ada)
    screen.show_idle()
    screen.show_door_result(result_for(ada, DoorResultKind.FAILED))
    assert screen.banner.text() == DOOR_FAILED_TEXT
