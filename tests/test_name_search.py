"""Names compare as people read them, in SQL as in Python (issue 27, photos 5)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import Engine, literal, select
from sqlalchemy.orm import Session

from core.accounts.operators import Authenticator
from core.enrollment.names import clean_display_name, clean_external_ref, name_key
from core.records import Operator
from core.settings import SecuritySettings, Settings
from core.vision.engine import FaceEngine
from storage import schema
from storage.identity_store import SqlIdentityStore
from storage.name_keys import name_key as sql_name_key
from storage.operator_store import SqlOperatorStore
from tests.photo_cases import Gallery, bgr_of


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def full_width(text: str) -> str:
    """``text`` in the full-width letters of East Asian keyboards."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# Names whose spellings differ in bytes but not to a reader, and the hard cases of
# Unicode case folding and normalisation.
TRICKY = [
    "José Müller",
    nfd("José Müller"),
    "STRASSE Straße",
    "İstanbul Iİ\u0131i",  # with a dotless i
    "ǰ J̌",  # folding decomposes: j + caron
    full_width("YAO MING"),
    "ﬁona ﬀ",  # ligatures
    "ὈΔΥΣΣΕΎΣ Ὀδυσσεύς",  # final sigma
    "Ǆ ǅ ǆ",  # digraphs in three cases
    nfd("Nguyễn Thị Ánh"),
    nfd("한국 이름"),  # Hangul as jamo
    "Ⅻ µ K Å",  # numeral, micro sign, kelvin sign, angstrom sign
    "¨ spaced ¨",  # NFKC brings a space in
    "O'Brien-Smith 100%_x",
]


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return Authenticator(operator_store, SecuritySettings(), "test-kiosk").create_first_admin(
        "alice", "tall-ladder-orange-77"
    )


def test_python_and_sql_give_every_name_the_same_key(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        for name in TRICKY:
            cleaned = clean_display_name(name)  # what the store holds
            in_sql = connection.scalar(select(sql_name_key(literal(cleaned))))
            assert in_sql == name_key(cleaned), name


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("José Müller", nfd("josé müller")),
        (nfd("José Müller"), "JOSÉ"),
        ("Straße", "STRASSE"),
        ("Yao Ming", full_width("YAO")),
        ("Nguyễn Thị Ánh", nfd("nguyễn thị")),
        ("Ὀδυσσεύς", "ὈΔΥΣΣΕΎΣ"),
        ("Fiona", "ﬁona"),
        ("Anne  Marie", "anne marie"),
    ],
)
def test_a_search_finds_the_name_however_either_was_typed(
    db_engine: Engine,
    identity_store: SqlIdentityStore,
    admin: Operator,
    stored: str,
    typed: str,
) -> None:
    with Session(db_engine) as session, session.begin():
        session.add(schema.Person(display_name=clean_display_name(stored)))
        session.add(schema.Person(display_name="Someone Unrelated"))
    found = identity_store.people(typed, 10, actor=admin)
    assert [p.display_name for p in found] == [clean_display_name(stored)]


def test_like_wildcards_typed_in_a_search_are_plain_characters(
    db_engine: Engine, identity_store: SqlIdentityStore, admin: Operator
) -> None:
    with Session(db_engine) as session, session.begin():
        session.add(schema.Person(display_name="Rate 100%_x"))
        session.add(schema.Person(display_name="Rate 1000 x"))
    assert [p.display_name for p in identity_store.people("100%_", 10, actor=admin)] == [
        "Rate 100%_x"
    ]


def test_badges_are_stored_composed_and_found_in_any_case(
    db_engine: Engine, identity_store: SqlIdentityStore, admin: Operator
) -> None:
    badge = clean_external_ref(nfd("  Bé-12 "))
    assert badge == "Bé-12"
    with Session(db_engine) as session, session.begin():
        session.add(schema.Person(display_name="Badge Holder", external_ref=badge))
    assert [p.external_ref for p in identity_store.people("BÉ-1", 10, actor=admin)] == ["Bé-12"]


def test_a_person_enrolled_with_a_decomposed_name_is_found_by_a_decomposed_search(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    settings: Settings,
    yaoming_jpg: Path,
) -> None:
    # The complaint as it was made: typed decomposed, stored composed, searched decomposed.
    gallery = Gallery(face_engine, identity_store, operator_store, settings)
    gallery.enroll(nfd("Zoë Ångström"), ("yaoming.jpg", bgr_of(yaoming_jpg)))
    for typed in (nfd("Zoë"), "zoë", nfd("ÅNGSTRÖM"), "Zoe\u0308 A\u030angstro\u0308m"):
        found = identity_store.people(typed, 10, actor=gallery.admin)
        assert [p.display_name for p in found] == ["Zoë Ångström"], typed
