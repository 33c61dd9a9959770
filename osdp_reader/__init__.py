"""The kiosk as an OSDP reader (peripheral device) towards a door controller, through
libosdp: grants go out as card reads, the controller's LED, buzzer and text come
back for the door screen (docs/osdp.md). Knows no Qt, SQL or front end."""

from __future__ import annotations

from core.osdp_settings import OsdpSettings
from osdp_reader.channels import PortTrouble, SerialChannel
from osdp_reader.frames import FrameInspector
from osdp_reader.keys import ReaderKey
from osdp_reader.reader import ChannelFactory, OsdpReader, ReaderListener


def serial_port(osdp: OsdpSettings) -> ChannelFactory:
    """The channel on ``osdp.serial_port`` (the RS-485 adapter)."""

    def make(inspector: FrameInspector, trouble: PortTrouble) -> SerialChannel:
        return SerialChannel(
            osdp.serial_port,
            osdp.baud,
            inspector,
            trouble,
            retry_s=osdp.port_retry_s,
            write_timeout_s=osdp.write_timeout_s,
        )

    return make


def open_reader(
    osdp: OsdpSettings, key: ReaderKey, listener: ReaderListener, kiosk_id: str
) -> OsdpReader:
    """The reader on the configured serial port, not started yet."""
    return OsdpReader(osdp, key, serial_port(osdp), listener, serial_number=kiosk_id)
