"""kiosk-server: the kiosk's HTTP API, another front end over the core services."""
