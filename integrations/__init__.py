"""What the kiosk tells the systems a site already runs: MQTT (with Home Assistant
discovery), signed webhooks and alerts (docs/integrations.md). Imports core, storage's
durable files and no front end."""
