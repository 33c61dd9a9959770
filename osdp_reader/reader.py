"""The kiosk as an OSDP reader (peripheral device) on a door controller's bus."""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from osdp import (
    Capability,
    CardFormat,
    Command,
    CompletionStatus,
    Event,
    LibFlag,
    LogLevel,
    PDCapabilities,
    PdId,
    PDInfo,
    PeripheralDevice,
)
from osdp import Channel as OsdpChannel

from core.access.controller_answers import ReaderCommand
from core.access.reader_status import CardReadResult, NotSent, ReaderLink, ReaderStatus
from core.access.wiegand import CardBits
from core.osdp_settings import CardFormat as SiteCardFormat
from core.osdp_settings import OsdpSettings
from osdp_reader.channels import PortTrouble
from osdp_reader.commands import reader_command
from osdp_reader.frames import FrameInspector, FrameProblem
from osdp_reader.keys import ReaderKey

log = logging.getLogger(__name__)

ChannelFactory = Callable[[FrameInspector, PortTrouble], OsdpChannel]
"""Makes the channel, given what must see its bytes and hear of its trouble."""

_NAK = -1
_ACK = 0
# Card reads waiting for the controller's poll at once: a busy door makes one a second.
_MOST_PENDING = 8
# What this reader offers the controller (function code, compliance level, items).
_CAPABILITIES = [
    (Capability.LEDControl, 1, 1),
    (Capability.AudibleControl, 1, 1),
    (Capability.TextOutput, 1, 1),
    (Capability.CardDataFormat, 1, 1),
    (Capability.CommunicationSecurity, 1, 1),
]
_THREAD_STOP_S = 2.0


class ReaderListener(Protocol):
    """Hears of the reader from libosdp's thread and the reader's own: each call
    must return at once (hand it to another thread; the kiosk emits a Qt signal)."""

    def command_received(self, command: ReaderCommand) -> None: ...

    def link_changed(self, link: ReaderLink) -> None: ...

    def port_trouble(self, trouble: str | None) -> None: ...

    def grant_not_sent(self, reason: str) -> None: ...


def _reply(status: int) -> tuple[int, None]:
    # A new tuple each time, never a constant one: libosdp 3.2's binding releases the
    # second item of the tuple a command handler returns, not the tuple, so a constant
    # (0, None) loses one reference to None per command, and Python before 3.12 aborts
    # once None's count reaches zero (after some thousands of commands).
    return (status, None)


class _Device(PeripheralDevice):
    """libosdp's peripheral device without its command queue, which nobody empties
    here and which would grow with every command for as long as the kiosk runs."""

    def __init__(self, handle: Callable[[Mapping[str, Any]], int], *args: Any) -> None:
        self._handle = handle
        super().__init__(*args)

    def _internal_command_handler(self, command: Mapping[str, Any]) -> tuple[int, None]:
        return _reply(self._handle(command))


class OsdpReader:
    """Exists so that the controller's bus runs beside the door, never in its way.
    libosdp's own thread answers the controller's polls (every 20 ms); a watch
    thread of ours follows the link and withdraws any card read the controller has
    not taken within ``grant_max_age_s`` (or when the link goes), so that a grant is
    never delivered late, to open the door for whoever stands there by then.
    ``send_card`` only queues. Counts are kept under a lock: three threads add to them.
    """

    def __init__(
        self,
        osdp: OsdpSettings,
        key: ReaderKey,
        channel: ChannelFactory,
        listener: ReaderListener,
        *,
        serial_number: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``serial_number``: what the controller reads as this reader's serial (the
        kiosk id); ``clock``: monotonic seconds."""
        self._osdp = osdp
        self._key = key
        self._listener = listener
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: deque[float] = deque()
        """The deadline of each card read the controller has not taken yet, oldest first."""
        self._card_reads: Counter[str] = Counter()
        self._not_sent: Counter[str] = Counter()
        self._bad_frames: Counter[str] = Counter()
        self._commands: Counter[str] = Counter()
        self._link = ReaderLink(online=False, secure=False)
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self.channel = channel(FrameInspector(self._frame_set_aside), listener.port_trouble)
        info = PDInfo(
            osdp.address,
            self.channel,
            scbk=key.key,
            name="face-kiosk",
            flags=[LibFlag.EnforceSecure],  # nothing is taken outside the secure channel
            id=PdId(1, 1, 0, zlib.crc32(serial_number.encode()), 0x010000),
        )
        self._device = _Device(self._command, info, PDCapabilities(_CAPABILITIES), LogLevel.Warning)
        self._device.set_event_completion_handler(self._card_read_done)

    # --- running ------------------------------------------------------------------------

    def start(self) -> None:
        self._device.start()
        self._watch = threading.Thread(target=self._follow_link, name="osdp-link", daemon=True)
        self._watch.start()
        log.info(
            "OSDP reader at address %d on %s baud, key from %s",
            self._osdp.address,
            self._osdp.baud,
            self._key.source,
        )

    def stop(self) -> None:
        """Withdraws what the controller has not taken, stops both threads, closes the
        port; safe to call more than once."""
        self._stop.set()
        if self._watch is not None:
            self._watch.join(_THREAD_STOP_S)
            self._watch = None
        if self._device.thread is not None:
            self._withdraw("the reader stops")
            self._device.stop()
        close = getattr(self.channel, "close", None)
        if callable(close):
            close()

    # --- the door's side ----------------------------------------------------------------

    def send_card(self, card: CardBits, age_s: float) -> bool:
        """Queue the card read of a grant decided ``age_s`` ago for the controller's
        next poll. False (counted, the listener told) when the link is down, the grant
        is already too old, or too many card reads wait."""
        if not self._link.usable:
            self.not_sent(NotSent.CONTROLLER_OFFLINE)
            return False
        left_s = self._osdp.grant_max_age_s - age_s
        if left_s <= 0:
            self.not_sent(NotSent.TOO_LATE)
            return False
        with self._lock:
            if len(self._pending) >= _MOST_PENDING:
                full = True
            else:
                full = False
                # Before the submit: libosdp's thread may report it taken at once.
                self._pending.append(self._clock() + left_s)
        if full:
            self.not_sent(NotSent.QUEUE_FULL)
            return False
        wiegand = self._osdp.card_format is not SiteCardFormat.RAW
        event = {
            "event": Event.CardRead,
            "reader_no": 0,
            "direction": 0,
            "format": CardFormat.Wiegand if wiegand else CardFormat.Unspecified,
            "length": card.length,
            "data": card.packed(),
        }
        if not self._device.submit_event(event):
            with self._lock:
                self._pending.pop()
                self._card_reads[CardReadResult.FAILED] += 1
            log.error("OSDP: libosdp refused the card read")
            return False
        return True

    def not_sent(self, reason: str) -> None:
        """A grant that will not reach the controller, and why (NotSent, Unsendable)."""
        with self._lock:
            self._not_sent[reason] += 1
        log.warning("OSDP: a grant was not sent to the door controller: %s", reason)
        self._listener.grant_not_sent(reason)

    def status(self) -> ReaderStatus:
        with self._lock:
            return ReaderStatus(
                self._link,
                dict(self._card_reads),
                dict(self._not_sent),
                dict(self._bad_frames),
                dict(self._commands),
            )

    # --- libosdp's thread ---------------------------------------------------------------

    def _command(self, raw: Mapping[str, Any]) -> int:
        """ACK (0) or NAK (-1) for the controller; never raises into libosdp's C code."""
        try:
            if raw.get("command") == Command.Keyset:
                return self._new_key(raw)
            command = reader_command(raw)
        except Exception:  # a malformed command is refused, the bus goes on
            log.exception("OSDP: a command from the controller could not be read")
            command = None
        if command is None:
            with self._lock:
                self._commands["refused"] += 1
            log.warning("OSDP: refused controller command %s", raw.get("command"))
            return _NAK
        with self._lock:
            self._commands[type(command).__name__.removesuffix("Command").lower()] += 1
        try:
            self._listener.command_received(command)
        except Exception:  # the screen's trouble, not the controller's
            log.exception("OSDP: showing a controller command failed")
        return _ACK

    def _new_key(self, raw: Mapping[str, Any]) -> int:
        """The controller changes the key: kept where the key came from first, so the
        two agree after a restart; if it cannot be kept, refused (the old key stays)."""
        key = bytes(raw.get("data", b""))
        try:
            self._key.replace(key)
        except Exception as error:  # noqa: BLE001 - said in one line; the old key stays
            with self._lock:
                self._commands["refused"] += 1
            log.error(
                "OSDP: the controller's new key cannot be kept in %s (%s); refused, the "
                "old key stays",
                self._key.source,
                error,
            )
            return _NAK
        with self._lock:
            self._commands["keyset"] += 1
        log.warning("OSDP: the controller set a new key; kept in %s", self._key.source)
        return _ACK

    def _card_read_done(self, _event: Mapping[str, Any], status: int) -> None:
        result = (
            CardReadResult.TAKEN
            if status == CompletionStatus.Ok
            else CardReadResult.WITHDRAWN
            if status == CompletionStatus.Flushed
            else CardReadResult.FAILED
        )
        with self._lock:
            if self._pending:
                self._pending.popleft()
            self._card_reads[result] += 1
        if result is not CardReadResult.TAKEN:
            log.warning("OSDP: a card read was %s, never sent to the controller", result)

    def _frame_set_aside(self, problem: FrameProblem, detail: str) -> None:
        with self._lock:
            self._bad_frames[problem.value] += 1
            seen = self._bad_frames[problem.value]
        # Said at 1, 2, 4, 8... of each kind: a noisy bus must not fill the log.
        if seen & (seen - 1) == 0:
            log.warning("OSDP: frame set aside (%s: %s), %d so far", problem, detail, seen)

    # --- the watch thread ---------------------------------------------------------------

    def _follow_link(self) -> None:
        while not self._stop.wait(self._osdp.link_check_s):
            try:
                self._check_link()
            except Exception:  # logged; the next check goes on
                log.exception("OSDP: checking the controller link failed")

    def _check_link(self) -> None:
        link = ReaderLink(
            online=bool(self._device.is_online()), secure=bool(self._device.is_sc_active())
        )
        if link != self._link:
            self._link = link
            (log.info if link.usable else log.warning)("OSDP: %s", link.describe())
            self._listener.link_changed(link)
        with self._lock:
            overdue = bool(self._pending) and self._pending[0] <= self._clock()
        if overdue or (not link.usable and self._pending):
            self._withdraw("not taken in time" if link.usable else "the link went")

    def _withdraw(self, why: str) -> None:
        with self._device.lock:
            withdrawn = self._device.ctx.flush_events()
        if withdrawn:
            log.warning("OSDP: %d card read(s) withdrawn: %s", withdrawn, why)
