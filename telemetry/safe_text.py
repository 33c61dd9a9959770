"""Text made safe to reach a terminal or a log: the one place that does it.

File names, people's and kiosks' names and configuration values come from
people, and some of them from people who mean harm. Written to a terminal as
they are, an escape sequence in a file name can move the cursor, erase the
``error:`` before it or recolour a refusal to read like a match; a
right-to-left override can reverse what follows it. Every character that
controls the display instead of showing itself is written as its escape
(``\\x1b``, ``\\u202e``) so a person sees it for what it is:

- C0 and C1 control characters and DEL (category Cc), except newline and tab
  where the text is several lines;
- format characters (Cf: bidirectional overrides and isolates, zero-width
  spaces, the byte-order mark, tag characters), except the zero-width joiner
  and non-joiner that Persian, Indic scripts and emoji are written with;
- the line and paragraph separators U+2028 and U+2029;
- lone surrogates, which stand for undecodable bytes in a file name and which
  a UTF-8 terminal cannot even be sent.
"""

from __future__ import annotations

import json
import re
import unicodedata

# Anything outside printable ASCII is a candidate; only candidates are looked up, so
# the common all-ASCII line costs one regex scan.
_CANDIDATES = re.compile(r"[^\x20-\x7e\n\t]")
_MULTILINE_CANDIDATES = re.compile(r"[^\x20-\x7e]")
_WRITTEN_WITH = frozenset({"\u200c", "\u200d"})  # zero-width non-joiner and joiner
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_unsafe(character: str) -> bool:
    """Whether one character would act on a terminal instead of being shown."""
    if character in _WRITTEN_WITH:
        return False
    return unicodedata.category(character) in _UNSAFE_CATEGORIES


def for_terminal(text: str, one_line: bool = False) -> str:
    """``text`` with every unsafe character written as its Python escape (``\\x1b``).

    Newlines and tabs are kept unless ``one_line``, when they are escaped too."""
    pattern = _MULTILINE_CANDIDATES if one_line else _CANDIDATES
    return pattern.sub(_python_escape, text)


def for_json(text: str) -> str:
    """An already encoded JSON text with every unsafe character as a JSON escape
    (``\\u001b``): the same JSON value, safe to print or to ``tail``.

    A raw newline or tab in JSON text is layout between values, never inside a string
    (the encoder escapes those), so they stay."""
    return _CANDIDATES.sub(_json_escape, text)


def _python_escape(match: re.Match[str]) -> str:
    character = match.group()
    return ascii(character)[1:-1] if is_unsafe(character) or character in "\n\t" else character


def _json_escape(match: re.Match[str]) -> str:
    character = match.group()
    # ensure_ascii gives \uXXXX, or a surrogate pair for a character past U+FFFF.
    return json.dumps(character)[1:-1] if is_unsafe(character) else character
