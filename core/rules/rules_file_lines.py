"""Where each table and key of a TOML rules file is, by line, for its error messages.

tomllib gives values, never places, so the text is read once more, line by line:
the n-th ``[[group]]`` header is the n-th group, and a ``key =`` at the start of a
line below it is that group's key. This knows just enough TOML for that (headers
and keys at the start of a line, outside multi-line strings); where it cannot
tell, a place falls back to the table's header, then to line 1.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# "[[group]]", "[group]", "[ group . extra ]", with an optional comment after.
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]*?)\s*\]\]?\s*(?:#.*)?$")
# The first part of a key at the start of a line: bare, "quoted" or 'literal'.
_KEY = re.compile(r"""^\s*([A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')\s*[=.]""")
_MULTILINE = ('"""', "'''")


@dataclass
class Block:
    """One table of the file: from its header line to the line before the next."""

    name: str
    """The header's name ("group"; "group.extra" for a sub-table); "" before any header."""
    array: bool
    """``[[name]]``: one entry of an array of tables."""
    line: int
    end: int
    keys: dict[str, int] = field(default_factory=dict)
    """Each key's first line."""


class RulesFileLines:
    """The places of a rules file's tables and keys (1-based line numbers)."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self.last_line = max(1, len(self._lines))
        self._blocks: list[Block] = []
        current = Block("", False, 1, self.last_line)
        self._blocks.append(current)
        inside: str | None = None  # the delimiter of a multi-line string we are in
        for number, line in enumerate(self._lines, start=1):
            if inside is not None:
                if line.count(inside) % 2 == 1:
                    inside = None
                continue
            header = _HEADER.match(line)
            if header is not None:
                current.end = number - 1
                name = re.sub(r"\s*\.\s*", ".", header.group(2)).strip("\"'")
                current = Block(name, header.group(1) == "[[", number, self.last_line)
                self._blocks.append(current)
                continue
            key = _KEY.match(line)
            if key is not None:
                current.keys.setdefault(key.group(1).strip("\"'"), number)
            inside = next((d for d in _MULTILINE if line.count(d) % 2 == 1), None)

    @property
    def top_keys(self) -> dict[str, int]:
        """The keys before the first header."""
        return self._blocks[0].keys

    def header(self, name: str) -> int | None:
        """The line of the first header of table ``name`` or of a table under it."""
        for block in self._blocks[1:]:
            if block.name == name or block.name.startswith(f"{name}."):
                return block.line
        return None

    def table(self, kind: str, index: int) -> Block | None:
        """The ``index``-th (from 0) ``[[kind]]`` of the file; None if there is no such
        header (the array was written inline, ``kind = [{...}]``)."""
        found = [b for b in self._blocks if b.array and b.name == kind]
        return found[index] if index < len(found) else None

    def table_line(self, kind: str, index: int) -> int:
        block = self.table(kind, index)
        if block is not None:
            return block.line
        return self.top_keys.get(kind) or self.header(kind) or 1

    def key_line(self, kind: str, index: int, key: str) -> int:
        block = self.table(kind, index)
        if block is not None and key in block.keys:
            return block.keys[key]
        sub = self.header(f"{kind}.{key}")
        return sub if sub is not None else self.table_line(kind, index)

    def value_line(self, kind: str, index: int, key: str | None, value: str) -> int:
        """The line of ``value`` (as TOML writes it, or as it is) under ``key`` of the
        table, or anywhere in the table when ``key`` is None; else the key's line."""
        found = self.find_value(kind, index, key, value)
        if found is not None:
            return found
        return self.key_line(kind, index, key) if key is not None else self.table_line(kind, index)

    def find_value(
        self, kind: str, index: int, key: str | None, value: str, skip: tuple[str, ...] = ()
    ) -> int | None:
        """As ``value_line``, None where the value is not found; the lines of the
        keys in ``skip`` are not searched."""
        block = self.table(kind, index)
        if block is None or not value:
            return None
        start, end = block.line, block.end
        if key is not None:
            if key not in block.keys:
                return None
            start = block.keys[key]
            later = [line for line in block.keys.values() if line > start]
            end = min(later, default=block.end + 1) - 1
        skipped = {block.keys[k] for k in skip if k in block.keys}
        quoted = json.dumps(value, ensure_ascii=False)
        for written in (quoted, f"'{value}'", value):
            for number in range(start, end + 1):
                if number not in skipped and written in self._lines[number - 1]:
                    return number
        return None
