"""Everything kiosk-admin prints: results on stdout, one-line errors on stderr.

Every text goes through ``telemetry.safe_text`` on its way out, so a name, a file
name or a configuration value can never act on the terminal (an escape sequence
that erases the ``error:`` before it, a right-to-left override).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from telemetry.safe_text import for_json, for_terminal

# A terminal's size where it does not report its own: a progress bar's width, and the
# lines tqdm draws bars on (it draws none past the last).
UNSIZED_TERMINAL_COLUMNS = 80
UNSIZED_TERMINAL_LINES = 24


@dataclass(frozen=True)
class Report:
    data: dict[str, Any]
    text: str
    exit_code: int = 0
    """Non-zero when the command ran but found something wrong (health)."""


def emit(report: Report, as_json: bool) -> None:
    """The result on stdout, flushed: a reader gone raises BrokenPipeError here, where
    the command can end quietly, not at exit (admin.cli)."""
    if as_json:
        text = for_json(json.dumps(report.data, default=str, ensure_ascii=False))
    else:
        text = for_terminal(report.text)
    _write(sys.stdout, text, flush=True)


def emit_error(message: str, exit_code: int, as_json: bool, prefix: str = "kiosk-admin") -> None:
    line = " ".join(message.split())
    if as_json:
        error = json.dumps({"error": line, "exit_code": exit_code}, ensure_ascii=False)
        _write(sys.stderr, for_json(error))
    else:
        _write(sys.stderr, for_terminal(f"{prefix}: error: {line}", one_line=True))


def progress(message: str) -> None:
    """A long command's progress, on stderr so stdout stays the result."""
    _write(sys.stderr, for_terminal(message, one_line=True), flush=True)


@contextmanager
def progress_bar(total: int, unit: str) -> Iterator[Callable[[Mapping[str, int]], None]]:
    """A progress bar on stderr while the block runs, when stderr is a terminal (tqdm);
    nothing otherwise. Yields ``step(counts)``: one more ``unit`` done, with the counts
    shown beside the bar (outcome names and numbers only: nothing a person typed)."""
    from tqdm import tqdm

    terminal = sys.stderr.isatty()
    # A terminal that reports no size (a pseudo-terminal nobody sized: `script` run
    # without a terminal of its own, a serial console) makes tqdm count -1 columns and
    # lines, and draw nothing: such a terminal gets the classic size instead.
    sized = terminal and _terminal_columns(sys.stderr) > 0
    with tqdm(
        total=total,
        unit=unit,
        file=sys.stderr,
        disable=not terminal,
        dynamic_ncols=sized,
        ncols=None if sized else UNSIZED_TERMINAL_COLUMNS,
        nrows=None if sized else UNSIZED_TERMINAL_LINES,
        smoothing=0.1,
    ) as bar:

        def step(counts: Mapping[str, int]) -> None:
            bar.set_postfix(counts, refresh=False)
            bar.update(1)

        yield step


def ask(question: str) -> str:
    """A question answered at the terminal (the caller made sure there is one); the
    answer as typed, "" at the end of input."""
    try:
        return input(for_terminal(question, one_line=True))
    except EOFError:
        return ""


def _terminal_columns(stream: TextIO) -> int:
    """The terminal's width in columns, 0 when it reports none."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return 0


def prompt_text(prompt: str) -> str:
    """A password prompt (it names the operator) as the terminal may show it."""
    return for_terminal(prompt, one_line=True)


EXIT_READER_GONE = 141
"""128 + SIGPIPE: what a shell shows for a command its pipe's reader left."""


def reader_gone() -> int:
    """The reader of stdout (or stderr) went away, as ``| head`` does once it has its
    lines: nothing more is written, not even an error, and the flush Python makes at
    exit goes to /dev/null instead of printing a traceback. Returns the exit code."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                os.dup2(null, stream.fileno())
            except (OSError, ValueError):  # no descriptor (replaced in tests): nothing to flush
                continue
    finally:
        os.close(null)
    return EXIT_READER_GONE


def _write(stream: TextIO, text: str, flush: bool = False) -> None:
    print(text, file=stream, flush=flush)
