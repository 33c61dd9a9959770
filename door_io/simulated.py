"""A door in memory: the kiosk runs and demos the door control with no hardware."""

from __future__ import annotations

import threading

from core.access.door_io import DoorInputs
from core.errors import DoorFault, DoorNotApplied


class SimulatedDoor:
    """A lock output, a door contact and an exit button held in memory (a DoorIo).

    The test or the demo opens and closes the door, presses the button, or unplugs
    the "module" to show a fault. Thread-safe: the door's thread drives it while
    the demo's thread moves the door.
    """

    def __init__(self, *, contact_on_when_closed: bool = True) -> None:
        self._lock = threading.Lock()
        self._contact_on_when_closed = contact_on_when_closed
        self._output = False
        self._open = False
        self._exit_pressed = False
        self._unplugged = False
        self._stuck: bool | None = None
        self._answers_lost = False
        self.writes: list[bool] = []
        """Every level the output was driven to, in order."""

    @property
    def name(self) -> str:
        return "simulated"

    @property
    def output(self) -> bool:
        with self._lock:
            return self._output

    def set_lock_output(self, on: bool) -> None:
        with self._lock:
            self._check()
            if self._stuck is None:
                self._output = on
            self.writes.append(on)
            self._check_answer()

    def read_inputs(self) -> DoorInputs:
        with self._lock:
            self._check()
            self._check_answer()
            contact = self._open != self._contact_on_when_closed
            return DoorInputs(
                contact=contact, exit_button=self._exit_pressed, lock_output=self._output
            )

    def read_lock_output(self) -> bool:
        with self._lock:
            self._check()
            self._check_answer()
            return self._output

    def close(self) -> None:
        pass

    def move_door(self, *, is_open: bool) -> None:
        with self._lock:
            self._open = is_open

    def hold_exit_button(self, pressed: bool) -> None:
        with self._lock:
            self._exit_pressed = pressed

    def unplug(self, unplugged: bool = True) -> None:
        """While unplugged every call raises DoorNotApplied, as a module gone away would."""
        with self._lock:
            self._unplugged = unplugged

    def stick(self, level: bool | None) -> None:
        """The output stays at ``level`` whatever it is told, each write still taken
        without an error: a relay welded shut, a module whose outputs are disabled.
        None: it follows the writes again."""
        with self._lock:
            self._stuck = level
            if level is not None:
                self._output = level

    def lose_answers(self, lost: bool = True) -> None:
        """While lost, each write is carried out but raises DoorFault, and no read is
        answered: a link that garbles or delays the module's replies."""
        with self._lock:
            self._answers_lost = lost

    def reset_output(self) -> None:
        """The module lost its power for a moment: its output is off again (unplugged
        or not)."""
        with self._lock:
            self._output = False

    def _check(self) -> None:
        if self._unplugged:
            raise DoorNotApplied("the simulated door module is unplugged; plug it in again")

    def _check_answer(self) -> None:
        if self._answers_lost:
            raise DoorFault("the simulated door module's answer was lost; check its link")
