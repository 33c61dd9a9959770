"""Files and folders the kiosk writes, chmods or chowns where another account may write.

The kiosk and ``kiosk-admin`` run as root, and a local account that may write a
folder on the way (a kiosk user owning the data folder, a folder above it) can
plant a symbolic link so that root changes a file of that account's choosing. So
every such change is made through a descriptor reached without following a link:

- ``folders``: a folder reached from ``/`` name by name (trusted links only on the
  way, the folder itself never a link);
- ``entries``: files and folders in it opened relative to it (O_NOFOLLOW), checked
  and changed through their descriptors, replaced whole by rename;
- ``tree``: a folder and everything below it narrowed to owner-only;
- ``inputs``: files given to read, regular files only, opened without waiting
  (a FIFO or a device is refused, never opened);
- ``secrets``: a secret file a setting names, read only once verified as the
  kiosk account's own (regular, 0600/0400, bounded, one line).

Refusals are OSErrors with a one-line message (``folders.UnsafeEntry``,
``inputs.NotARegularFile``, ``secrets.SecretFileRefused``). This
package imports nothing else of the kiosk's (pyproject.toml's contracts), so that
storage, config, telemetry and the front ends may all use it.
"""
