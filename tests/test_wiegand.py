"""The badge number as Wiegand bits (core.access.wiegand), against published examples:
HID's H10301 layout and the worked 26- and 34-bit examples of a reader's manual
(CIVINTEC CN56 series, 6.4.2 and 6.4.5: data D4 1B 81 and 89 D4 1B 81)."""

from __future__ import annotations

import pytest

from core.access.wiegand import (
    BadgeRefused,
    CardBits,
    Unsendable,
    badge_warning,
    card_for_badge,
    wiegand26,
    wiegand34,
)
from core.osdp_settings import CardFormat, OsdpSettings


def _ones(bits: str) -> int:
    return bits.count("1")


@pytest.mark.parametrize(
    ("facility", "card", "expected"),
    [
        # The manual's 26-bit example: facility D4 (212), card 1B81 (7041).
        (0xD4, 0x1B81, "11101010000011011100000010"),
        # HID H10301, all zeros: only the odd parity bit is set.
        (0, 0, "00000000000000000000000001"),
        # All ones: 12 ones on each side are even, so E is 0 and O is 1.
        (255, 65535, "01111111111111111111111111"),
    ],
)
def test_wiegand26_matches_the_published_examples(facility: int, card: int, expected: str) -> None:
    bits = wiegand26(facility, card)
    assert bits.length == 26
    assert bits.text() == expected


def test_wiegand34_matches_the_published_example() -> None:
    bits = wiegand34(0x89D4, 0x1B81)
    assert bits.text() == "1100010011101010000011011100000011"


@pytest.mark.parametrize(
    ("facility", "card"), [(1, 1), (7, 12345), (18, 45678), (128, 32768), (254, 2)]
)
def test_wiegand26_parities_follow_the_standard(facility: int, card: int) -> None:
    bits = wiegand26(facility, card).text()
    assert int(bits[1:9], 2) == facility
    assert int(bits[9:25], 2) == card
    assert _ones(bits[:13]) % 2 == 0  # E with the first 12 data bits: even
    assert _ones(bits[13:]) % 2 == 1  # the last 12 data bits with O: odd


@pytest.mark.parametrize(("facility", "card"), [(1, 1), (40000, 65535), (65535, 0)])
def test_wiegand34_parities_follow_the_standard(facility: int, card: int) -> None:
    bits = wiegand34(facility, card).text()
    assert int(bits[1:17], 2) == facility
    assert int(bits[17:33], 2) == card
    assert _ones(bits[:17]) % 2 == 0
    assert _ones(bits[17:]) % 2 == 1


def test_bits_are_packed_from_the_top_of_the_first_byte() -> None:
    # 1 11010100 00011011 10000001 0, padded with six zeros.
    assert wiegand26(0xD4, 0x1B81).packed() == bytes([0xEA, 0x0D, 0xC0, 0x80])
    assert CardBits(0b101, 3).packed() == bytes([0b1010_0000])


@pytest.mark.parametrize(("facility", "card"), [(256, 0), (-1, 0), (0, 65536), (0, -1)])
def test_fields_that_do_not_fit_are_refused(facility: int, card: int) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        wiegand26(facility, card)


def _osdp(**values: object) -> OsdpSettings:
    return OsdpSettings.model_validate({"enabled": True, "serial_port": "/dev/ttyUSB0", **values})


@pytest.mark.parametrize(
    ("badge", "reason"),
    [
        (None, Unsendable.NO_BADGE),
        ("  ", Unsendable.NO_BADGE),
        ("A-1234", Unsendable.NOT_A_NUMBER),
        ("١٢٣", Unsendable.NOT_A_NUMBER),  # Arabic-Indic digits are digits, not ASCII ones
        ("65536", Unsendable.TOO_LARGE),
    ],
)
def test_badges_the_controller_cannot_know_are_refused_with_the_fix(
    badge: str | None, reason: Unsendable
) -> None:
    refused = card_for_badge(badge, _osdp(facility_code=212))
    assert isinstance(refused, BadgeRefused)
    assert refused.reason is reason
    assert "badge number" in refused.text


def test_a_badge_number_is_the_card_number_with_the_sites_facility_code() -> None:
    assert card_for_badge(" 07041 ", _osdp(facility_code=212)) == wiegand26(212, 7041)
    assert card_for_badge("7041", _osdp(card_format="wiegand34", facility_code=0x89D4)) == (
        wiegand34(0x89D4, 7041)
    )
    raw = card_for_badge("4000000000", _osdp(card_format="raw"))
    assert raw == CardBits(4_000_000_000, 32)
    assert isinstance(card_for_badge("4294967296", _osdp(card_format="raw")), BadgeRefused)


def test_the_enrollment_warning_only_when_osdp_is_on() -> None:
    assert badge_warning(None, OsdpSettings()) is None
    warning = badge_warning(None, _osdp())
    assert warning is not None
    assert "controller" in warning
    assert badge_warning("12", _osdp()) is None


def test_settings_refuse_a_facility_code_wiegand26_cannot_carry() -> None:
    with pytest.raises(ValueError, match="does not fit wiegand26"):
        _osdp(facility_code=256)
    assert _osdp(card_format=CardFormat.WIEGAND34, facility_code=256).facility_code == 256
    with pytest.raises(ValueError, match="needs serial_port"):
        OsdpSettings(enabled=True)
    with pytest.raises(ValueError, match="not an OSDP speed"):
        _osdp(baud=1200)
