"""What a kiosk-admin command works with, opened only when it is first needed."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Mapping
from contextlib import ExitStack
from functools import cached_property
from types import TracebackType

from admin.output import prompt_text
from config.environment import Location, secure_data_dir
from config.local_config import LocalConfig
from core.access.identification import IdentificationService
from core.access.recognition_throttle import RecognitionThrottle
from core.accounts.operators import Authenticator, OperatorService
from core.administration.audit import AuditService
from core.administration.shared_settings import SettingsService
from core.enrollment.enrollment import EnrollmentService
from core.errors import AuthenticationFailed, InvalidValue
from core.people.people import PeopleService
from core.people.pins import MAX_PIN_DIGITS, PinService
from core.records import Operator
from core.settings import Settings
from core.vision.engine import FaceEngine
from storage.pin_store import SqlPinStore
from storage.secrets import find_database_password
from storage.store import OpenStore, open_store

# The kiosk id under which kiosk-admin identify records its decisions.
CLI_KIOSK_ID = "kiosk-admin"
# How much of standard input is read for a PIN: a PIN, a line end, and enough over
# to tell a PIN from something else without reading a whole file.
_PIN_LINE_CHARS = MAX_PIN_DIGITS + 8


class CommandContext:
    def __init__(self, location: Location, config: LocalConfig, environ: Mapping[str, str]) -> None:
        self.location = location
        self.config = config
        self.settings = config.settings
        self._environ = environ
        self._stack = ExitStack()

    @cached_property
    def store(self) -> OpenStore:
        secure_data_dir(self.location.data_dir)
        store = self._stack.enter_context(
            open_store(
                self.location.data_dir,
                self.location.database_url,
                self._environ.get("KIOSK_DATABASE_PASSWORD") or None,
                self.settings.embedded_server,
                anchor_lock_s=self.settings.security.audit_anchor_lock_s,
                query_deadline_s=self.settings.database.query_deadline_s,
            )
        )
        secure_data_dir(self.location.data_dir)  # the embedded server opened it up
        return store

    @cached_property
    def shared_settings(self) -> SettingsService:
        return SettingsService(self.store.settings, self.settings)

    @cached_property
    def effective(self) -> Settings:
        """The local settings with the database's shared and per-kiosk values over them.

        The first use audits the values taken from kiosk.toml, variables or options
        (SettingsService.record_local_values)."""
        effective = self.shared_settings.effective()
        self.shared_settings.record_local_values(self.config.sources)
        return effective

    @cached_property
    def engine(self) -> FaceEngine:
        from core.inference.insightface_backend import load_engine

        return load_engine(self.settings)

    @cached_property
    def enrollment(self) -> EnrollmentService:
        return EnrollmentService(self.engine, self.store.identity, self.effective.matching)

    @cached_property
    def identification(self) -> IdentificationService:
        # Recorded under a name of its own, never the door's: a CLI identification is
        # not a door decision (DecisionSource.CLI) and does not extend retention.
        return IdentificationService(
            self.engine, self.store.identity, self.effective.matching, CLI_KIOSK_ID
        )

    @cached_property
    def recognition_throttle(self) -> RecognitionThrottle:
        return RecognitionThrottle(self.effective.security)

    @cached_property
    def authenticator(self) -> Authenticator:
        # Not self.effective: an admin must be able to log in to replace a bad stored value.
        usable = self.shared_settings.usable()
        return Authenticator(self.store.operators, usable.security, self.settings.kiosk_id)

    @cached_property
    def people(self) -> PeopleService:
        return PeopleService(self.store.identity, self.settings.security)

    @cached_property
    def pins(self) -> PinService:
        return PinService(SqlPinStore(self.store.engine), self.settings.security)

    @cached_property
    def operators(self) -> OperatorService:
        return OperatorService(self.store.operators, self.settings.security)

    @cached_property
    def audit(self) -> AuditService:
        return AuditService(self.store.audit, self.settings.security)

    def database_password(self) -> str | None:
        """The external database's password (KIOSK_DATABASE_PASSWORD or the keyring), for
        the programs that reach it themselves (pg_dump); None for the embedded one."""
        url = self.location.database_url
        if url is None:
            return None
        return find_database_password(url, self._environ.get("KIOSK_DATABASE_PASSWORD")).value

    def close(self) -> None:
        """Close the store (leaving the embedded server) now, before the end."""
        self._stack.close()

    def login(self, username: str) -> Operator:
        return self.authenticator.authenticate(
            username, self.password(f"password for {username}: ")
        )

    def password(self, prompt: str, confirm: bool = False) -> str:
        """From KIOSK_PASSWORD, else typed at a terminal; never from arguments."""
        return self._secret("KIOSK_PASSWORD", prompt, confirm)

    def new_password(self, prompt: str) -> str:
        """A password being set for an operator: KIOSK_NEW_PASSWORD, else typed twice."""
        return self._secret("KIOSK_NEW_PASSWORD", prompt, confirm=True)

    def new_pin(self, prompt: str) -> str:
        """A PIN being set: typed twice without echo at a terminal, else the first line
        of standard input; never an argument or a variable, which others may read."""
        if sys.stdin.isatty():
            typed = getpass.getpass(prompt_text(prompt))
            if getpass.getpass("again: ") != typed:
                raise InvalidValue("the two PINs differ; run the command again")
            return typed
        line = sys.stdin.readline(_PIN_LINE_CHARS).rstrip("\r\n")
        if not line:
            raise InvalidValue(
                "no PIN given: type it at a terminal, or give it as the first line of "
                "standard input"
            )
        return line

    def _secret(self, variable: str, prompt: str, confirm: bool) -> str:
        given = self._environ.get(variable)
        if given:
            return given
        if not sys.stdin.isatty():
            raise AuthenticationFailed(
                f"no password given: set {variable} or run the command in a terminal"
            )
        typed = getpass.getpass(prompt_text(prompt))
        if confirm and getpass.getpass("again: ") != typed:
            raise AuthenticationFailed("the two passwords differ; run the command again")
        return typed

    def __enter__(self) -> CommandContext:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.close()
