"""The ``[osdp]`` section: the kiosk as an OSDP reader (peripheral device) towards a
door controller (docs/osdp.md). Apart from core.settings only to keep that module
short; it is one of its sections.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from core.settings_base import Section

# The speeds OSDP names (IEC 60839-11-5, osdp_COMSET); a controller polls at one of them.
OSDP_BAUDS = (9600, 19200, 38400, 57600, 115200, 230400)
# 0x7F is the broadcast address: no reader may take it.
MAX_READER_ADDRESS = 126


class CardFormat(StrEnum):
    WIEGAND26 = "wiegand26"
    """H10301: even parity, 8-bit facility code, 16-bit card number, odd parity."""
    WIEGAND34 = "wiegand34"
    """Even parity, 16-bit facility code, 16-bit card number, odd parity."""
    RAW = "raw"
    """The badge number itself in ``raw_bits`` bits, no facility code, no parity."""


class OsdpSettings(Section):
    enabled: bool = Field(
        False,
        description="The kiosk acts as an OSDP reader towards a door controller: each grant "
        "goes to the controller as a card read of the person's badge number.",
    )
    serial_port: str = Field(
        "",
        max_length=255,
        description="The RS-485 adapter's serial device, e.g. /dev/ttyUSB0.",
    )
    baud: int = Field(9600, description="The bus speed in bit/s, as set on the controller.")
    address: int = Field(
        0,
        ge=0,
        le=MAX_READER_ADDRESS,
        description="This reader's address on the bus (0-126), as set on the controller.",
    )
    scbk_file: Path | None = Field(
        None,
        description="The secure channel base key (32 hex digits) in a file only this "
        "account may read; unset: the OS keyring (service face-kiosk, account "
        "osdp-scbk:<kiosk id>). Never the key itself here.",
    )
    card_format: CardFormat = Field(
        CardFormat.WIEGAND26, description="wiegand26, wiegand34 or raw, as the controller expects."
    )
    facility_code: int = Field(
        0,
        ge=0,
        le=65535,
        description="The facility (site) code sent with every card number: 0-255 for "
        "wiegand26, 0-65535 for wiegand34; unused for raw.",
    )
    raw_bits: int = Field(
        32, ge=8, le=64, description="card_format raw: the card read's length in bits."
    )
    grant_max_age_s: float = Field(
        2.0,
        gt=0,
        le=30,
        description="A grant not taken by the controller this long after the decision is "
        "withdrawn: it would open the door for whoever stands there by then.",
    )
    link_check_s: float = Field(
        0.25,
        ge=0.05,
        le=10,
        description="How often the controller link is checked and stale card reads withdrawn.",
    )
    port_retry_s: float = Field(
        1.0, gt=0, le=60, description="Wait before a serial port that failed is opened again."
    )
    write_timeout_s: float = Field(
        0.5, gt=0, le=10, description="Longest wait for a reply to be written to the port."
    )
    answer_shown_max_s: float = Field(
        10.0,
        ge=1,
        le=300,
        description="The longest the controller's own answer (its LED, text) stays on the "
        "door screen, whatever time the controller asked for.",
    )

    @field_validator("scbk_file")
    @classmethod
    def _home_expanded(cls, path: Path | None) -> Path | None:
        return path.expanduser() if path is not None else None

    @model_validator(mode="after")
    def _usable(self) -> OsdpSettings:
        if self.baud not in OSDP_BAUDS:
            raise ValueError(
                f"baud {self.baud} is not an OSDP speed; use one of "
                f"{', '.join(str(b) for b in OSDP_BAUDS)}"
            )
        if self.enabled and not self.serial_port:
            raise ValueError("enabled needs serial_port (the RS-485 adapter, e.g. /dev/ttyUSB0)")
        if self.card_format is CardFormat.WIEGAND26 and self.facility_code > 255:
            raise ValueError(
                f"facility_code {self.facility_code} does not fit wiegand26 (0-255); "
                "use wiegand34 or a smaller code"
            )
        return self
