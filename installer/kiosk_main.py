"""The bundle's `kiosk` executable (PyInstaller needs a script, not an entry point)."""

from kiosk.app import main

raise SystemExit(main())
