"""Door hardware adapters behind core.access.door_io.DoorIo: simulated, Modbus-TCP,
USB-serial relay boards and Linux GPIO lines. May import core; core never imports
this package."""
