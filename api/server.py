"""kiosk-server: serve the HTTP API with uvicorn, or rotate its token signing key.

    kiosk-server [--host 127.0.0.1] [--port 8080] [--tls-cert FILE --tls-key FILE]
                 [--trusted-proxy 127.0.0.1] [--data-dir DIR] [--database-url URL]
    kiosk-server rotate-signing-key [--data-dir DIR]

Exit codes: 0 stopped cleanly, 2 a bad option or setting, 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import stat
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta

from api.services import API_KIOSK_ID, ApiServices, opened_services
from api.signing_keys import SigningKeys
from config.environment import load_configuration, secure_data_dir
from config.local_config import CommandLine
from core.errors import ConfigurationError, KioskError
from telemetry.json_log import log_to_console, log_to_files

log = logging.getLogger("api.server")
LOG_FILE = "api.log.jsonl"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    args = _parser().parse_args(argv)
    log_to_console(
        logging.INFO if args.verbose else logging.WARNING, "%(levelname)s %(name)s: %(message)s"
    )
    try:
        location, config = load_configuration(
            args.data_dir,
            CommandLine(args.database_url, args.model_dir, args.providers),
            environ,
            default_kiosk_id=API_KIOSK_ID,
        )
        if args.action == "rotate-signing-key":
            secure_data_dir(location.data_dir)
            lifetime = timedelta(minutes=config.settings.api.access_token_minutes)
            key = SigningKeys(location.data_dir, lifetime).rotate()
            print(  # noqa: T201 - the command's one line of output
                f"new signing key {key.kid}; tokens signed by the old one are accepted for "
                f"{config.settings.api.access_token_minutes} more minutes"
            )
            return EXIT_OK
        _check_tls(args.tls_cert, args.tls_key)
        log_file = log_to_files(location.data_dir, config.settings.telemetry, LOG_FILE)
        with opened_services(location, config, environ) as services:
            log.info("kiosk-server on %s:%s; JSON log in %s", args.host, args.port, log_file)
            scheme = "https" if args.tls_cert else "http"
            host = f"[{args.host}]" if ":" in args.host else args.host
            print(  # noqa: T201 - a person starting it should see where it is
                f"kiosk-server: starting on {scheme}://{host}:{args.port} (the OpenAPI page "
                f"at /docs); JSON log in {log_file}",
                file=sys.stderr,
                flush=True,
            )
            _serve(services, args)
        return EXIT_OK
    except ConfigurationError as error:
        print(f"kiosk-server: {error}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except KioskError as error:
        print(f"kiosk-server: {error}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILURE


def _serve(services: ApiServices, args: argparse.Namespace) -> None:
    import uvicorn

    from api.app import create_app

    app = create_app(services)
    trusted = ",".join(args.trusted_proxy) if args.trusted_proxy else None
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        # X-Forwarded-For and -Proto are believed only from the proxies named.
        proxy_headers=trusted is not None,
        forwarded_allow_ips=trusted or "",
        server_header=False,
        access_log=False,  # api.middleware logs each request as JSON, with its id
        log_config=None,
    )
    # uvicorn stops gracefully on SIGTERM and SIGINT, then raises the signal again for
    # the handler that was there before: a quiet one, so that the store closes (and
    # the embedded server stops) rather than the default handler ending the process.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        log.info("kiosk-server stopped")
    finally:
        app.state.pool.close()


def _check_tls(cert: str | None, key: str | None) -> None:
    if (cert is None) != (key is None):
        raise ConfigurationError("give both --tls-cert and --tls-key, or neither")
    if key is None:
        return
    try:
        info = os.stat(key)
    except OSError as error:
        raise ConfigurationError(f"--tls-key {key}: {error.strerror}") from error
    if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise ConfigurationError(
            f"--tls-key {key} must be this account's and readable by it alone: chmod 600 {key}"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk-server",
        description="The kiosk's HTTP API (OpenAPI document at /openapi.json); docs/api.md.",
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=("serve", "rotate-signing-key"),
        default="serve",
        help="serve (the default), or make a new token signing key and retire the old one",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8080)
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", metavar="FILE", help="and its private key (0600)")
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        metavar="ADDRESS",
        help="a reverse proxy whose X-Forwarded-For/-Proto are believed (repeatable); "
        "without it they are ignored",
    )
    parser.add_argument("--data-dir", help="data folder (default: KIOSK_DATA_DIR or the user's)")
    parser.add_argument("--database-url", help="external PostgreSQL instead of the embedded one")
    parser.add_argument("--model-dir", help="model pack folder (default: buffalo_sc)")
    parser.add_argument("--providers", help="onnxruntime providers, comma separated")
    parser.add_argument("--verbose", "-v", action="store_true", help="log progress")
    return parser


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (1-65535)")
    return port


if __name__ == "__main__":
    sys.exit(main())
