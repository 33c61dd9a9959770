"""The ``[door_io]`` section: the lock, the door contact and the exit button, and
the hardware that drives them (docs/door-wiring.md). Apart from core.settings only
to keep that module short; it is one of its sections.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DoorAdapter(StrEnum):
    NONE = "none"
    """No door hardware: "access granted" is shown, nothing is driven."""
    SIMULATED = "simulated"
    """A lock and door in memory, shown on the screens: demos without hardware."""
    MODBUS = "modbus"
    """A Modbus-TCP relay/IO module (pymodbus)."""
    SERIAL = "serial"
    """A USB-serial relay board of the LCUS type (pyserial)."""
    GPIO = "gpio"
    """Linux GPIO character-device lines (libgpiod's gpiod, v2 API)."""


class FailMode(StrEnum):
    SECURE = "secure"
    """Fail-secure: energise to unlock (an electric strike); locked without power."""
    SAFE = "safe"
    """Fail-safe: energise to lock (a magnetic lock); unlocked without power."""


class DoorIoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    adapter: DoorAdapter = Field(
        DoorAdapter.NONE,
        description="The door hardware: none, simulated, modbus, serial or gpio.",
    )
    unlock_s: float = Field(
        5.0, ge=0.5, le=300, description="How long a grant or the exit button releases the lock."
    )
    held_open_s: float = Field(
        30.0, ge=1, le=3600, description="Open this long after an unlock raises held-open."
    )
    fail_mode: FailMode = Field(
        FailMode.SECURE,
        description="secure: the output is energised to unlock (strike); "
        "safe: energised to lock (magnetic lock).",
    )
    lock_active_high: bool = Field(
        True,
        description="The lock output is on (coil set, relay closed) when energised; "
        "false for boards that switch on a low or reset output.",
    )
    contact_on_when_closed: bool = Field(
        True,
        description="The door contact input is on while the door is closed (a "
        "normally-closed reed switch); false for one that is on while open.",
    )
    rex_in_lockdown: bool = Field(
        True,
        description="The exit button unlocks during lockdown too (free egress); false "
        "only where the door has mechanical egress.",
    )
    grant_max_age_s: float = Field(
        2.0,
        gt=0,
        le=30,
        description="A grant that reaches the lock later than this after the decision is "
        "refused: it would open for whoever stands there by then.",
    )
    poll_interval_s: float = Field(
        0.05, ge=0.01, le=2, description="How often the contact and exit inputs are read."
    )
    debounce_s: float = Field(
        0.05, ge=0, le=2, description="An input must keep a new value this long to count."
    )
    command_timeout_s: float = Field(
        2.0,
        gt=0,
        le=30,
        description="Longest wait for the lock to take an unlock before the person is "
        "told to call staff; at start, for the forced lock before the database is opened.",
    )
    retry_s: float = Field(
        1.0, gt=0, le=60, description="First wait before the hardware is tried again after a fault."
    )
    retry_max_s: float = Field(
        10.0, gt=0, le=600, description="Longest wait between tries; each fault doubles it."
    )
    operator_poll_s: float = Field(
        1.0,
        ge=0.1,
        le=60,
        description="How often the kiosk reads operators' door commands (kiosk-admin door) "
        "from the database.",
    )
    command_max_age_s: float = Field(
        30.0,
        ge=2,
        le=3600,
        description="An operator's unlock (kiosk-admin door unlock, a screen, MQTT) the "
        "kiosk takes later than this after it was asked for is set aside, audited, never "
        "carried out: the kiosk was stopped or cut off from the database meanwhile, and "
        "the door would open long after anyone meant it to; at least twice operator_poll_s.",
    )
    min_operator_unlock_s: float = Field(
        1.0,
        ge=0.5,
        le=60,
        description="Shortest unlock an operator may ask for (kiosk-admin door unlock).",
    )
    max_operator_unlock_s: float = Field(
        3600.0,
        ge=1,
        le=86400,
        description="Longest unlock an operator may ask for (kiosk-admin door unlock).",
    )
    report_heartbeat_s: float = Field(
        60.0,
        ge=5,
        le=3600,
        description="A kiosk writes its door report when the door's state changes, and "
        "at least this often while it runs, so a silent kiosk can be told apart.",
    )
    report_stale_s: float = Field(
        180.0,
        ge=10,
        le=86400,
        description="kiosk-admin door status and the Door page mark a door report older "
        "than this as stale (the kiosk is off or cannot reach the database); at least "
        "twice report_heartbeat_s.",
    )
    failed_unlocks_shown_s: float = Field(
        86400.0,
        ge=60,
        le=30 * 86400,
        description="The Door page and kiosk-admin door status show the failed unlocks "
        "(door.unlock_failed in the audit log) of this long ago.",
    )
    door_page_refresh_s: float = Field(
        5.0, ge=1, le=300, description="How often the Door page reads the doors again while shown."
    )
    modbus_host: str = Field("", max_length=253, description="The Modbus-TCP module's address.")
    modbus_port: int = Field(502, ge=1, le=65535, description="Its TCP port.")
    modbus_unit: int = Field(1, ge=0, le=247, description="Its unit (device) id.")
    modbus_lock_coil: int = Field(0, ge=0, le=65535, description="The coil driving the lock.")
    modbus_contact_input: int | None = Field(
        None, ge=0, le=65535, description="Discrete input of the door contact; unset: not wired."
    )
    modbus_exit_input: int | None = Field(
        None, ge=0, le=65535, description="Discrete input of the exit button; unset: not wired."
    )
    modbus_timeout_s: float = Field(
        1.0, gt=0, le=30, description="Longest wait for the module to answer one request."
    )
    serial_port: str = Field(
        "", max_length=255, description="The relay board's serial device, e.g. /dev/ttyUSB0."
    )
    serial_baud: int = Field(9600, ge=300, le=921_600, description="Its speed in bit/s.")
    serial_channel: int = Field(1, ge=1, le=8, description="The board's relay driving the lock.")
    serial_timeout_s: float = Field(
        1.0, gt=0, le=30, description="Longest wait for a command to be written."
    )

    gpio_chip: str = Field(
        "/dev/gpiochip0", min_length=1, max_length=255, description="The GPIO chip's device."
    )
    gpio_lock_line: int | None = Field(
        None, ge=0, le=1023, description="The line (offset on the chip) driving the lock relay."
    )
    gpio_contact_line: int | None = Field(
        None, ge=0, le=1023, description="The door contact's line; unset: not wired."
    )
    gpio_exit_line: int | None = Field(
        None, ge=0, le=1023, description="The exit button's line; unset: not wired."
    )
    gpio_inputs_active_low: bool = Field(
        True,
        description="The contact and exit lines are on when pulled low (a switch to ground, "
        "with the chip's pull-up); false for switches to the supply.",
    )

    @model_validator(mode="after")
    def _adapter_has_its_address(self) -> DoorIoSettings:
        if self.adapter is DoorAdapter.MODBUS and not self.modbus_host:
            raise ValueError("adapter modbus needs modbus_host (the module's address)")
        if self.adapter is DoorAdapter.SERIAL and not self.serial_port:
            raise ValueError("adapter serial needs serial_port (e.g. /dev/ttyUSB0)")
        if self.adapter is DoorAdapter.GPIO and self.gpio_lock_line is None:
            raise ValueError("adapter gpio needs gpio_lock_line (the lock relay's line)")
        _refuse_shared_points(
            "discrete input",
            ("modbus_contact_input", self.modbus_contact_input),
            ("modbus_exit_input", self.modbus_exit_input),
        )
        _refuse_shared_points(
            "line",
            ("gpio_lock_line", self.gpio_lock_line),
            ("gpio_contact_line", self.gpio_contact_line),
            ("gpio_exit_line", self.gpio_exit_line),
        )
        if self.retry_max_s < self.retry_s:
            raise ValueError(f"retry_max_s ({self.retry_max_s}) must be at least retry_s")
        if self.max_operator_unlock_s < self.min_operator_unlock_s:
            raise ValueError(
                f"max_operator_unlock_s ({self.max_operator_unlock_s:g}) must be at least "
                "min_operator_unlock_s"
            )
        if self.report_stale_s < 2 * self.report_heartbeat_s:
            raise ValueError(
                f"report_stale_s ({self.report_stale_s:g}) must be at least twice "
                f"report_heartbeat_s ({self.report_heartbeat_s:g})"
            )
        if self.command_max_age_s < 2 * self.operator_poll_s:
            raise ValueError(
                f"command_max_age_s ({self.command_max_age_s:g}) must be at least twice "
                f"operator_poll_s ({self.operator_poll_s:g}): a command waits that long to "
                "be taken"
            )
        return self


def _refuse_shared_points(kind: str, *roles: tuple[str, int | None]) -> None:
    """Raise ValueError naming the first two keys that put two roles (the lock, the
    door contact, the exit button) on one ``kind`` of the hardware: one point cannot
    be both, and the door would take a door opening for an exit request, or drive its
    own contact. Unset roles (not wired) are skipped."""
    seen: dict[int, str] = {}
    for key, point in roles:
        if point is None:
            continue
        if point in seen:
            raise ValueError(
                f"door_io.{seen[point]} and door_io.{key} are both {kind} {point}; "
                "give each its own (unset one that is not wired)"
            )
        seen[point] = key
