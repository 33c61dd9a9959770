"""The settings of the kiosk as a service: logins and retention, logs and metrics,
the offline spool, the database's answers, the embedded server. Sections of
core.settings.Settings, apart only to keep that module short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from core.settings_base import Section as _Section


class SecuritySettings(_Section):
    login_max_failures: int = Field(
        5, ge=1, le=100, description="Consecutive failed logins that lock a username."
    )
    login_base_lock_s: int = Field(
        30, ge=1, le=3600, description="First lock; each further failure doubles it."
    )
    login_max_lock_s: int = Field(900, ge=1, le=86400, description="Longest lock of a username.")
    kiosk_login_max_failures: int = Field(
        20,
        ge=1,
        le=10000,
        description="Failed logins at one kiosk, any usernames, that lock its logins.",
    )
    kiosk_login_window_s: int = Field(
        600, ge=1, le=86400, description="Window over which a kiosk's failed logins count."
    )
    kiosk_login_lock_s: int = Field(
        300, ge=1, le=86400, description="How long a kiosk refuses logins after that."
    )
    recognition_max_denied: int = Field(
        5, ge=1, le=1000, description="Denied recognitions in the window that start a cooldown."
    )
    recognition_window_s: float = Field(
        30.0, gt=0, le=3600, description="Window over which denied recognitions count."
    )
    recognition_cooldown_s: float = Field(
        30.0, gt=0, le=3600, description="Pause during which no recognition runs."
    )
    session_idle_s: float = Field(
        120.0, gt=0, le=86400, description="Operator session ends after this long idle."
    )
    login_screen_idle_s: float = Field(
        30.0,
        ge=5,
        le=600,
        description="A login or first-run screen with no key, click or touch for this long "
        "goes back to the door, which does not recognise anyone while it is up.",
    )
    retention_days: int = Field(
        1095,
        ge=1,
        le=36500,
        description="Days after the last successful recognition (or enrollment) "
        "before a person is purged.",
    )
    bcrypt_target_ms: float = Field(
        250.0, gt=0, le=5000, description="Time one password hash should take here."
    )
    bcrypt_min_rounds: int = Field(12, ge=12, le=20, description="Lowest bcrypt cost ever used.")
    pin_max_failures: int = Field(
        3,
        ge=1,
        le=20,
        description="Consecutive wrong PINs for one person, at any door, that lock their PIN "
        "entry; after a lock each further wrong PIN locks it again, for twice as long.",
    )
    pin_base_lock_s: int = Field(
        300, ge=1, le=86400, description="First lock of a person's PIN entry."
    )
    pin_max_lock_s: int = Field(
        86400, ge=1, le=604800, description="Longest lock of a person's PIN entry."
    )
    pin_bcrypt_rounds: int = Field(
        10,
        ge=8,
        le=14,
        description="bcrypt cost of a PIN's hash, fixed rather than calibrated: PINs are set "
        "on an admin's machine and checked at the door, twice per PIN (the PIN and the duress "
        "PIN) while the person waits. The throttle, not the cost, stops guessing: a 4-digit "
        "PIN falls to an offline search at any cost a door can wait for.",
    )
    purge_batch_people: int = Field(
        500,
        ge=1,
        le=20_000,
        description="People the retention purge deletes per transaction, each audited: "
        "short transactions, so the doors' writes never wait long on it.",
    )
    audit_anchor_lock_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Longest wait for the audit anchor file's lock; an append that waits "
        "longer is not anchored, and kiosk-admin audit verify then reports it.",
    )
    audit_clock_step_s: float = Field(
        300.0,
        ge=1,
        le=86400,
        description="How far back the database server's clock may step between two audit "
        "events before audit verify reports the later one as written in afterwards.",
    )


class TelemetrySettings(_Section):
    """What the kiosk tells the people who run it: logs and metrics."""

    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Serve Prometheus metrics on 127.0.0.1 at this port; 0 turns them off.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severity written to the JSON log file."
    )
    log_file_max_mb: int = Field(
        10, ge=1, le=1000, description="Size at which the JSON log file is rotated."
    )
    log_files_kept: int = Field(
        5, ge=1, le=100, description="Rotated JSON log files kept besides the current one."
    )
    log_person_names: bool = Field(
        False,
        description="Write the names of the people the door greets into the log; off, the "
        "log names no one (decisions carry the person's id and the access event's id).",
    )


class SpoolSettings(_Section):
    """The local file that keeps access and audit events while the database is down."""

    writers: int = Field(
        8,
        ge=1,
        le=64,
        description="Kiosk processes that may spool in one data folder at once, each in a "
        "file of its own; one more is refused with the reason.",
    )
    reserve_kb: int = Field(
        1024,
        ge=0,
        le=1_048_576,
        description="Disk space kept back for the spool (about 4 events per KB) and given up "
        "when the disk fills, so events are still kept; 0 keeps none.",
    )
    batch_events: int = Field(
        200,
        ge=1,
        le=10_000,
        description="Spooled events sent per transaction: few round trips, short locks.",
    )
    max_event_bytes: int = Field(
        16_384,
        ge=1024,
        le=1_048_576,
        description="Longest spooled event; a longer line is set aside unread.",
    )


class DatabaseSettings(_Section):
    """How long the kiosk waits on its database (``[database]``, besides its url): a
    server that takes a request and never answers must not hold the door."""

    query_deadline_s: float = Field(
        4.0,
        gt=2.0,
        le=60,
        description="Longest a door's call to the database (a search, keeping a decision) "
        "may take, and longest the spool's sender waits for one answer: past it the "
        "connection is cut, never used again, and the database taken for offline. Above "
        "the search's own 2 s statement timeout, so that a slow server is answered busy.",
    )
    kiosk_claim_wait_s: float = Field(
        15.0,
        ge=0,
        le=600,
        description="How long a starting kiosk waits for its kiosk id to be let go by a "
        "process that held it and died (a server sees a lost TCP client within about 11 s) "
        "before it refuses to start because another running kiosk has that id.",
    )


class EmbeddedServerSettings(_Section):
    """The embedded PostgreSQL: how long its start and stop may take, and how the kiosk
    brings it back after it died."""

    init_timeout_s: float = Field(
        120.0, gt=0, le=1800, description="Time allowed to create a new database folder."
    )
    start_timeout_s: float = Field(
        60.0, gt=0, le=600, description="Time allowed for the server to accept connections."
    )
    stop_timeout_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Time a fast shutdown may take before an immediate one is asked for.",
    )
    check_interval_s: float = Field(
        2.0, gt=0, le=60, description="How often the kiosk checks that its server still runs."
    )
    restart_delay_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Wait after a failed restart before the next; the first try is at once.",
    )
    restart_backoff: float = Field(
        2.0, ge=1, le=10, description="Factor by which each further wait grows."
    )
    restart_delay_max_s: float = Field(
        60.0, gt=0, le=3600, description="Longest wait between two restart attempts."
    )


class RulesSettings(_Section):
    """Access rules (core.rules): doors' time zones, visitors' validity."""

    time_zone: str = Field(
        "",
        max_length=64,
        description="IANA time zone this kiosk's door starts with (its schedules are read "
        'in it), e.g. "Europe/Berlin"; empty: the machine\'s own zone, or UTC if it has '
        "none. Set once, when the door is first made; change it later with "
        "kiosk-admin doors set.",
    )
    visitor_valid_days: int = Field(
        1,
        ge=1,
        le=366,
        description="Days a visitor enrolled without an end date may pass, today included.",
    )
    presence_lock_wait_ms: int = Field(
        2000,
        ge=50,
        le=30_000,
        description="Longest a door waits for a person's anti-passback presence while "
        "another kiosk passes them through a door of the same area (it holds it for one "
        "short transaction); past it the face is refused as offline and the door stays "
        "closed.",
    )
    file_max_kb: int = Field(
        16384,
        ge=16,
        le=1048576,
        description="Largest rules file kiosk-admin rules import reads, in KiB (a site of "
        "100,000 people's memberships is about 5 MiB).",
    )


class BackupSettings(_Section):
    """Backups of the database (``[backup]``): kiosk-admin backup, and a daily one made
    by the kiosk itself when ``time_of_day`` is set (docs/operations.md)."""

    time_of_day: str = Field(
        "",
        pattern=r"^$|^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description='Local time of the kiosk\'s daily backup, "HH:MM"; empty (the default): '
        "no scheduled backups.",
    )
    keep: int = Field(
        7, ge=1, le=366, description="Scheduled backups kept; the oldest beyond are removed."
    )
    folder: Path | None = Field(
        None,
        description="Folder of the scheduled backups (made owner-only); unset: backups/ in "
        "the data folder. Best on another disk.",
    )
    key_file: Path | None = Field(
        None,
        description="Key file the scheduled backups are encrypted with (kiosk-admin "
        "backup-key makes one; owner-only); unset: they are written unencrypted.",
    )
    retry_after_s: float = Field(
        3600.0,
        ge=60,
        le=86_400,
        description="Wait before a failed scheduled backup is tried again.",
    )
    dump_timeout_s: float = Field(
        3600.0,
        gt=0,
        le=86_400,
        description="Longest pg_dump may take; past it, it is stopped and the backup fails.",
    )
    restore_timeout_s: float = Field(
        3600.0,
        gt=0,
        le=86_400,
        description="Longest pg_restore may take in kiosk-admin restore.",
    )

    @field_validator("folder", "key_file")
    @classmethod
    def _home_expanded(cls, path: Path | None) -> Path | None:
        return path.expanduser() if path is not None else None
