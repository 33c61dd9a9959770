"""kiosk-admin: the command-line front end over core and storage."""
