"""Structured logs: one JSON object per line, in rotating files in the data folder."""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.environment import secure_data_dir
from core.errors import ConfigurationError, UnsafeDataEntry
from core.settings import TelemetrySettings
from owned_files.entries import open_file, secure_folder
from owned_files.folders import UnsafeEntry
from telemetry.safe_text import for_json, for_terminal

LOG_FILE = "kiosk.log.jsonl"
NAME_WITHHELD = "[person]"
# The attributes every LogRecord has; anything else was passed in ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, then the record's ``extra`` fields (event_id...).

    Control and format characters in any field are JSON escapes, so a log read with
    ``tail`` or ``less`` shows a hostile name instead of obeying it."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return for_json(json.dumps(entry, default=str, ensure_ascii=False))


class ConsoleFormatter(logging.Formatter):
    """The console's plain lines (and tracebacks), every unsafe character escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


def log_to_console(level: int, fmt: str) -> None:
    """Log records at ``level`` and above to stderr through a ConsoleFormatter.

    Does nothing when the root logger already has handlers: a host (pytest, an
    embedding program) owns logging then."""
    root = logging.getLogger()
    if root.handlers:
        return
    console = logging.StreamHandler()
    console.setFormatter(ConsoleFormatter(fmt))
    console.setLevel(level)  # the file handler may let the root pass more than this
    root.addHandler(console)
    root.setLevel(level)


class OwnerOnlyRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Exists because the log holds people's ids (and their names where a setting
    allows): the file, and each new one after a rotation, is created 0600. The
    rotated files keep the mode through the rename. The file is never opened through
    a link (owned_files): root writing to a kiosk user's data folder must not
    append to a file that user points it at."""

    def _open(self) -> io.TextIOWrapper:
        stream = open(  # noqa: SIM115 - the handler keeps the stream and closes it
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=_owner_only,
        )
        assert isinstance(stream, io.TextIOWrapper)
        return stream


def _owner_only(path: str, flags: int) -> int:
    return open_file(Path(path), flags)


def loggable_text(text: str, name: str | None, names_allowed: bool) -> str:
    """``text`` (a banner, a message) on one line as a log may carry it: ``name`` in it
    becomes "[person]" unless ``names_allowed`` (``telemetry.log_person_names``)."""
    flat = " ".join(text.split())
    if name and not names_allowed:
        flat = flat.replace(" ".join(name.split()), NAME_WITHHELD)
    return flat


def log_to_files(data_dir: Path, telemetry: TelemetrySettings, file_name: str = LOG_FILE) -> Path:
    """Send every log record at ``telemetry.log_level`` and above to the rotating JSON
    log ``file_name`` in ``data_dir/logs`` (each program its own: a rotation is not
    shared across processes); returns the file's path. The data folder is made
    owner-only first, and the logs in it (older ones included) 0600."""
    folder = data_dir / "logs"
    path = folder / file_name
    try:
        secure_data_dir(data_dir)  # tightens a logs folder an older version left open
        secure_folder(folder)
        handler = OwnerOnlyRotatingFileHandler(
            path,
            maxBytes=telemetry.log_file_max_mb * 1024 * 1024,
            backupCount=telemetry.log_files_kept,
            encoding="utf-8",
        )
    except UnsafeDataEntry:
        raise
    except UnsafeEntry as error:
        raise UnsafeDataEntry(str(error)) from error
    except OSError as error:
        raise ConfigurationError(
            f"cannot write the log file {path} ({error.strerror}); "
            "choose a data folder this user may write (--data-dir or KIOSK_DATA_DIR)"
        ) from error
    handler.setFormatter(JsonFormatter())
    handler.setLevel(telemetry.log_level.upper())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, handler.level))
    return path
