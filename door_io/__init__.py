"""Door hardware adapters behind core.access.door_io.DoorIo: simulated, Modbus-TCP
and USB-serial relay boards. May import core; core never imports this package."""
