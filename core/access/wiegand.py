"""A person's badge number as the card bits a door controller expects (Wiegand).

A door controller knows its cardholders by the bits their card sends. The kiosk, as
a reader, sends the badge number of the person it granted in one of three formats:

- wiegand26 (HID H10301): E FFFFFFFF CCCCCCCCCCCCCCCC O: an even parity bit over
  the first 12 data bits, the 8-bit facility code, the 16-bit card number, an odd
  parity bit over the last 12 data bits.
- wiegand34: the same with a 16-bit facility code; the parities cover 16 bits each.
- raw: the badge number itself in a fixed number of bits, no parity.

Bits are sent most significant first; in bytes they are packed from the first
byte's top bit, the last byte padded with zeros (OSDP's osdp_RAW card data).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.osdp_settings import CardFormat, OsdpSettings


@dataclass(frozen=True)
class CardBits:
    """``length`` bits, ``value`` holding them (the first bit sent is the top one)."""

    value: int
    length: int

    def __post_init__(self) -> None:
        if self.length < 1 or not 0 <= self.value < 1 << self.length:
            raise ValueError(f"{self.value} does not fit {self.length} bits")

    def packed(self) -> bytes:
        """The bits from the first byte's top bit on, the last byte padded with zeros."""
        size = (self.length + 7) // 8
        return (self.value << (size * 8 - self.length)).to_bytes(size, "big")

    def text(self) -> str:
        """The bits as 0 and 1, first sent first: for logs, tests and docs."""
        return format(self.value, f"0{self.length}b")


def _ones(value: int) -> int:
    return bin(value).count("1")


def wiegand(facility_code: int, card_number: int, facility_bits: int) -> CardBits:
    """The Wiegand frame E + facility + 16-bit card number + O, ``facility_bits`` wide
    (8: 26-bit, 16: 34-bit). Raises ValueError when a field does not fit."""
    if not 0 <= facility_code < 1 << facility_bits:
        raise ValueError(f"facility code {facility_code} does not fit {facility_bits} bits")
    if not 0 <= card_number < 1 << 16:
        raise ValueError(f"card number {card_number} does not fit 16 bits")
    data_bits = facility_bits + 16
    data = facility_code << 16 | card_number
    half = data_bits // 2
    first, last = data >> half, data & ((1 << half) - 1)
    even = _ones(first) % 2  # makes the first half's ones, with it, even
    odd = 1 - _ones(last) % 2  # makes the last half's ones, with it, odd
    return CardBits(even << (data_bits + 1) | data << 1 | odd, data_bits + 2)


def wiegand26(facility_code: int, card_number: int) -> CardBits:
    """H10301: facility code 0-255, card number 0-65535. Raises ValueError otherwise."""
    return wiegand(facility_code, card_number, 8)


def wiegand34(facility_code: int, card_number: int) -> CardBits:
    """Facility code 0-65535, card number 0-65535. Raises ValueError otherwise."""
    return wiegand(facility_code, card_number, 16)


class Unsendable(StrEnum):
    """Why a granted person's badge cannot go to the controller."""

    NO_BADGE = "no_badge"
    NOT_A_NUMBER = "not_a_number"
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class BadgeRefused:
    reason: Unsendable
    text: str
    """In plain words, naming the fix; never the badge number itself (the logs hold it)."""


def card_for_badge(badge: str | None, osdp: OsdpSettings) -> CardBits | BadgeRefused:
    """The card bits for the badge number ``badge`` (people.external_ref, decimal
    digits) in ``osdp.card_format``, or why it cannot be sent."""
    if badge is None or not badge.strip():
        return BadgeRefused(
            Unsendable.NO_BADGE,
            "the person has no badge number: give them one (the card number the "
            "door controller knows) to let them through the controller",
        )
    digits = badge.strip()
    if not (digits.isascii() and digits.isdigit()):
        return BadgeRefused(
            Unsendable.NOT_A_NUMBER,
            "the badge number is not a plain decimal number, which is what the "
            f"controller's {osdp.card_format.value} card number is: give the card number",
        )
    number = int(digits)
    largest = card_number_limit(osdp)
    if number > largest:
        return BadgeRefused(
            Unsendable.TOO_LARGE,
            f"the badge number is above {largest}, the largest {osdp.card_format.value} "
            "card number: give the card number without the facility code, or change "
            "osdp.card_format",
        )
    if osdp.card_format is CardFormat.WIEGAND26:
        return wiegand26(osdp.facility_code, number)
    if osdp.card_format is CardFormat.WIEGAND34:
        return wiegand34(osdp.facility_code, number)
    return CardBits(number, osdp.raw_bits)


def card_number_limit(osdp: OsdpSettings) -> int:
    """The largest badge number ``osdp.card_format`` can carry."""
    if osdp.card_format is CardFormat.RAW:
        return (1 << osdp.raw_bits) - 1
    return (1 << 16) - 1


def badge_warning(badge: str | None, osdp: OsdpSettings) -> str | None:
    """What the operator enrolling someone must hear when the door controller will
    not know them (OSDP on and the badge unsendable); None when all is well."""
    if not osdp.enabled:
        return None
    card = card_for_badge(badge, osdp)
    if isinstance(card, CardBits):
        return None
    return f"this door's controller will not let them through: {card.text}"
