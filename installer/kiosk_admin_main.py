"""The bundle's `kiosk-admin` executable (PyInstaller needs a script, not an entry point)."""

from admin.cli import main

raise SystemExit(main())
