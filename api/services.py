"""What kiosk-server works with: the store, the settings, the models and the core
services, opened once at start-up and shared by every request.

Wired as kiosk-admin's CommandContext wires them (admin/context.py), with the
same settings: the database's shared values over kiosk.toml, the local values
audited once (settings.local), and the login throttle on the usable settings so
that an admin can always log in to replace a bad stored value.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta

from api.signing_keys import SigningKeys
from api.tokens import TokenIssuer
from config.environment import Location, secure_data_dir
from config.local_config import LocalConfig
from core.access.door_commands import DoorCommandService
from core.access.identification import IdentificationService
from core.access.photo_checks import PhotoChecks
from core.access.recognition_throttle import RecognitionThrottle
from core.accounts.api_keys import ApiKeyService
from core.accounts.operators import Authenticator
from core.administration.audit import AuditService
from core.administration.shared_settings import SettingsService
from core.enrollment.enrollment import EnrollmentService
from core.enrollment.person_details import PersonDetailsService
from core.enrollment.photo_addition import PhotoAddition
from core.people.people import PeopleService
from core.records import Operator
from core.settings import Settings
from core.vision.engine import FaceEngine
from storage.api_key_store import SqlApiKeyStore
from storage.door_commands import SqlDoorCommands
from storage.person_details import SqlPersonDetails
from storage.person_photos import SqlPersonPhotos
from storage.server_supervisor import ServerSupervisor
from storage.store import OpenStore, open_store

log = logging.getLogger(__name__)

API_KIOSK_ID = "kiosk-server"
"""The kiosk id kiosk-server records its identifications and logins under, unless
``kiosk.id`` names it otherwise. Its decisions are recorded as CLI decisions (not a
door's): they neither open a door nor extend anyone's retention."""


@dataclass(frozen=True)
class ApiServices:
    settings: Settings
    """The local settings (kiosk.toml, variables, options)."""
    effective: Settings
    """With the database's shared values over them: what the services enforce."""
    store: OpenStore
    engine: FaceEngine
    authenticator: Authenticator
    api_keys: ApiKeyService
    tokens: TokenIssuer
    enrollment: EnrollmentService
    photos: PhotoAddition
    identification: IdentificationService
    photo_checks: PhotoChecks
    people: PeopleService
    person_details: PersonDetailsService
    audit: AuditService
    doors: DoorCommandService
    throttles: RecognitionThrottles


class RecognitionThrottles:
    """The recognition throttle of each operator or key that identifies: one client
    trying photo after photo is paused without pausing the others. Holds at most
    ``limit`` throttles, forgetting the least recently used. Thread-safe: a
    RecognitionThrottle is not, so each is used under this lock's per-client guard."""

    def __init__(self, settings: Settings, limit: int) -> None:
        self._settings = settings
        self._limit = limit
        self._lock = threading.Lock()
        self._throttles: OrderedDict[str, tuple[RecognitionThrottle, threading.Lock]] = (
            OrderedDict()
        )

    @contextmanager
    def of(self, operator: Operator) -> Iterator[RecognitionThrottle]:
        with self._lock:
            found = self._throttles.pop(operator.username, None)
            if found is None:
                found = (RecognitionThrottle(self._settings.security), threading.Lock())
            self._throttles[operator.username] = found
            while len(self._throttles) > self._limit:
                self._throttles.popitem(last=False)
        throttle, guard = found
        with guard:
            yield throttle


@contextmanager
def opened_services(
    location: Location,
    config: LocalConfig,
    environ: Mapping[str, str],
    engine: FaceEngine | None = None,
) -> Iterator[ApiServices]:
    """Open the store (starting the embedded server, and watching it as the kiosk does:
    restarted when it dies), make the signing key if there is none, load the models
    (unless ``engine`` is given), and close everything on exit. Raises KioskError."""
    with ExitStack() as stack:
        settings = config.settings
        secure_data_dir(location.data_dir)
        store = stack.enter_context(
            open_store(
                location.data_dir,
                location.database_url,
                environ.get("KIOSK_DATABASE_PASSWORD") or None,
                settings.embedded_server,
                anchor_lock_s=settings.security.audit_anchor_lock_s,
                query_deadline_s=settings.database.query_deadline_s,
            )
        )
        secure_data_dir(location.data_dir)  # the embedded server opened it up
        if store.server is not None:
            # The kiosk's own supervisor (storage.server_supervisor). Left before the
            # store (the stack unwinds in reverse): it must not restart the server
            # that closing the store stops.
            stack.enter_context(
                ServerSupervisor(
                    store.server, store.engine, settings.kiosk_id, settings.embedded_server
                )
            )
        yield build_services(location, config, store, engine)


def build_services(
    location: Location, config: LocalConfig, store: OpenStore, engine: FaceEngine | None = None
) -> ApiServices:
    """The services over an open ``store``; loads the models (seconds) unless given."""
    from core.inference.insightface_backend import load_engine

    settings = config.settings
    shared = SettingsService(store.settings, settings)
    effective = shared.effective()
    shared.record_local_values(config.sources)
    lifetime = timedelta(minutes=settings.api.access_token_minutes)
    keys = SigningKeys(location.data_dir, lifetime)
    keys.ensure()
    engine = engine if engine is not None else load_engine(settings)
    enrollment = EnrollmentService(engine, store.identity, effective.matching)
    identification = IdentificationService(
        engine, store.identity, effective.matching, settings.kiosk_id
    )
    return ApiServices(
        settings=settings,
        effective=effective,
        store=store,
        engine=engine,
        authenticator=Authenticator(store.operators, shared.usable().security, settings.kiosk_id),
        api_keys=ApiKeyService(SqlApiKeyStore(store.engine)),
        tokens=TokenIssuer(keys, lifetime),
        enrollment=enrollment,
        photos=PhotoAddition(
            enrollment, SqlPersonPhotos(store.engine), effective.matching, engine.template_model
        ),
        identification=identification,
        photo_checks=PhotoChecks(
            engine, identification, store.identity, effective.matching, effective.quality
        ),
        people=PeopleService(store.identity, settings.security),
        person_details=PersonDetailsService(SqlPersonDetails(store.engine)),
        audit=AuditService(store.audit, settings.security),
        doors=DoorCommandService(SqlDoorCommands(store.engine), settings.door_io),
        throttles=RecognitionThrottles(effective, settings.api.rate_limited_clients),
    )
