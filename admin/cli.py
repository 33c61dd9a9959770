"""kiosk-admin: enroll, identify and manage people from the command line.

Exit codes: 0 success, 2 usage, 3 input rejected, 4 authentication failed or
not allowed, 5 not found, 141 the output's reader went away (``| head``: quietly,
as a command ended by SIGPIPE), 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from admin import (
    access_commands,
    api_key_commands,
    area_commands,
    audit_commands,
    backup_commands,
    calibrate,
    commands,
    config_commands,
    door_commands,
    export_commands,
    health,
    import_command,
    operator_commands,
    people_commands,
    photo_commands,
    settings_commands,
)
from admin.context import CommandContext
from admin.output import Report, emit, emit_error, reader_gone
from admin.person_refs import person_ref
from admin.rules_parsers import add_rules_commands
from config.environment import load_configuration
from config.local_config import CONFIG_FILE, CommandLine
from core.errors import (
    AuthenticationFailed,
    ConfigurationError,
    InputRejected,
    InvalidValue,
    KioskError,
    NotAllowed,
    NotFound,
    RecognitionPaused,
)
from core.records import AccessOutcome, Role
from telemetry.json_log import log_to_console

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INPUT_REJECTED = 3
EXIT_NOT_ALLOWED = 4
EXIT_NOT_FOUND = 5

_EXIT_CODES: tuple[tuple[type[KioskError], int], ...] = (
    (ConfigurationError, EXIT_USAGE),
    (InvalidValue, EXIT_USAGE),
    (InputRejected, EXIT_INPUT_REJECTED),
    (AuthenticationFailed, EXIT_NOT_ALLOWED),
    (NotAllowed, EXIT_NOT_ALLOWED),
    (RecognitionPaused, EXIT_NOT_ALLOWED),
    (NotFound, EXIT_NOT_FOUND),
)

Command = Callable[[argparse.Namespace, CommandContext], Report]


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    try:
        return _main(argv, environ)
    except BrokenPipeError:  # e.g. kiosk-admin audit | head: the reader had enough
        return reader_gone()


def _main(argv: Sequence[str] | None, environ: Mapping[str, str] | None) -> int:
    environ = os.environ if environ is None else environ
    args = _parser().parse_args(argv)
    log_to_console(
        logging.INFO if args.verbose else logging.WARNING, "%(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:
        # Library chatter (e.g. platformdirs on XDG_RUNTIME_DIR) is not for operators.
        warnings.simplefilter("ignore")
    try:
        location, config = load_configuration(
            args.data_dir,
            CommandLine(args.database_url, args.model_dir, args.providers),
            environ,
        )
        with CommandContext(location, config, environ) as ctx:
            report = args.command(args, ctx)
            emit(report, args.json)
        return report.exit_code
    except KioskError as error:
        code = next((c for kind, c in _EXIT_CODES if isinstance(error, kind)), EXIT_FAILURE)
        emit_error(str(error), code, args.json)
        return code
    except KeyboardInterrupt:
        emit_error(
            "interrupted; nothing was changed by the unfinished step", EXIT_FAILURE, args.json
        )
        return EXIT_FAILURE
    except BrokenPipeError:
        raise  # not a failure: main ends quietly
    except Exception as error:
        logging.getLogger(__name__).debug("unexpected failure", exc_info=True)
        emit_error(
            f"unexpected {type(error).__name__}: {error} (run with --verbose for details)",
            EXIT_FAILURE,
            args.json,
        )
        if args.verbose:
            raise
        return EXIT_FAILURE


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (JSON with --json), like every other error."""

    def error(self, message: str) -> NoReturn:
        hint = f"{message} (see {self.prog} --help)"
        emit_error(hint, EXIT_USAGE, "--json" in sys.argv[1:], prefix=self.prog)
        sys.exit(EXIT_USAGE)


def _common_options(suppress: bool) -> argparse.ArgumentParser:
    # Given to the main parser and every subcommand, so options go before or after it.
    default = argparse.SUPPRESS if suppress else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print results as one JSON object",
    )
    common.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="log progress",
    )
    common.add_argument(
        "--data-dir",
        default=default,
        help="data folder (default: KIOSK_DATA_DIR or the user data folder)",
    )
    common.add_argument(
        "--database-url",
        default=default,
        help="external PostgreSQL instead of the embedded one (default: KIOSK_DATABASE_URL)",
    )
    common.add_argument(
        "--model-dir",
        default=default,
        help="model pack folder (default: KIOSK_MODEL_DIR or buffalo_sc)",
    )
    common.add_argument(
        "--providers",
        default=default,
        help="onnxruntime providers, comma separated (default: CPUExecutionProvider)",
    )
    return common


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kiosk-admin",
        description="Manage the face-recognition kiosk: operators, people, identification.",
        parents=[_common_options(suppress=False)],
        epilog="Passwords: KIOSK_PASSWORD (yours), KIOSK_NEW_PASSWORD (one being set), or "
        "prompts. Exit codes: 0 ok, 2 usage, 3 input rejected, 4 not allowed, 5 not found, "
        "1 other.",
    )
    common = [_common_options(suppress=True)]
    sub = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Parser)

    def command(
        group: Any, name: str, run: Command, summary: str, operator: bool = True
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = group.add_parser(
            name, parents=common, help=summary, description=summary
        )
        p.set_defaults(command=run)
        if operator:
            p.add_argument("--operator", required=True, metavar="USER", help="who is acting")
        return p

    p = command(
        sub,
        "init",
        commands.init,
        "create the first admin operator (password: KIOSK_PASSWORD or a prompt)",
        operator=False,
    )
    p.add_argument("--admin", required=True, metavar="USER")

    p = command(
        sub, "enroll", commands.enroll, "enroll a person from photos, after recorded consent"
    )
    p.add_argument("--name", required=True)
    p.add_argument(
        "--image",
        required=True,
        action="append",
        type=commands.image_path,
        metavar="PATH",
        help="a photo with exactly one face; repeat for more",
    )
    p.add_argument(
        "--consent", action="store_true", help="the person agreed to the consent text in force"
    )
    p.add_argument("--external-ref", metavar="REF", help="e.g. a badge number")
    access_commands.add_access_options(p, enrolling=True)

    p = command(
        sub,
        "import",
        import_command.import_people,
        "enroll the people of a CSV file (an HR export) with their photos, each row as a "
        "single enrollment; exit 0 when every row went in, 3 when some were refused",
    )
    p.add_argument("people_file", type=Path, metavar="PEOPLE.csv")
    p.add_argument(
        "--photos",
        required=True,
        type=Path,
        metavar="DIR",
        help="the folder the file's photo names are relative to; nothing outside it is read",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check every row, faces against the enrolled people and the file included; "
        "store nothing",
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="write each row's outcome to a new FILE (JSON if it ends in .json, else CSV), "
        "owner-only",
    )
    p.add_argument(
        "--replace-report",
        action="store_true",
        help="replace the --report FILE if it exists (otherwise refused)",
    )

    p = command(sub, "identify", commands.identify, "identify the largest face in a photo")
    p.add_argument("--image", required=True, type=commands.image_path, metavar="PATH")

    p = command(
        sub,
        "people",
        people_commands.people,
        "list enrolled people, show (set) a person's access groups and validity, or set "
        "their PIN for face-and-PIN doors (people pin PERSON_ID [--duress] [--clear]: "
        "typed twice without echo, or the first line of standard input), or add photos "
        "(people add-photos PERSON_ID --image PATH ...)",
    )
    p.add_argument(
        "action", nargs="?", choices=("list", "access", "pin", "add-photos"), default="list"
    )
    photo_commands.add_image_option(p)
    p.add_argument("person_id", nargs="?", type=commands.person_id, metavar="PERSON_ID")
    p.add_argument("--search", help="part of a name or external reference")
    p.add_argument("--limit", type=_positive, default=100)
    access_commands.add_access_options(p, enrolling=False)
    p.add_argument(
        "--model",
        nargs="?",
        const="",
        metavar="TEMPLATE_MODEL",
        help="only people enrolled with other models than the pack in use (or than "
        "TEMPLATE_MODEL, as `health` names it), who must be re-enrolled",
    )
    p.add_argument(
        "--duress",
        action="store_true",
        help="with pin: the duress PIN, which opens like the PIN and raises a silent alarm",
    )
    p.add_argument("--clear", action="store_true", help="with pin: remove the PIN (or duress PIN)")

    photo_commands.add_command(sub, command)

    p = command(sub, "show", people_commands.show, "show one person, their consent and retention")
    p.add_argument("person_id", type=person_ref, metavar="PERSON_ID", help="or its start")

    p = command(
        sub,
        "withdraw-consent",
        people_commands.withdraw_consent,
        "record that a person withdrew consent: every template is deleted",
    )
    p.add_argument("person_id", type=commands.person_id, metavar="PERSON_ID")

    p = command(sub, "delete", people_commands.delete, "delete a person and every template")
    p.add_argument("person_id", type=person_ref, metavar="PERSON_ID", help="or its start")
    p.add_argument("--yes", action="store_true", help="do not ask first (needed in scripts)")

    command(
        sub,
        "purge-expired",
        people_commands.purge_expired,
        "delete everyone past the retention period",
    )

    p = command(
        sub,
        "audit",
        audit_commands.audit,
        "show the newest audit events, verify the audit and access chains against the "
        "anchor kept here, or re-anchor them (admins, after a failed verify was dealt with)",
    )
    p.add_argument("action", nargs="?", choices=("list", "verify", "re-anchor"), default="list")
    p.add_argument("--limit", type=_positive, default=50)
    _time_window(p)
    p.add_argument("--actor", metavar="USERNAME", help="only what this operator did")
    p.add_argument(
        "--action", dest="only_action", metavar="ACTION", help='e.g. person.delete, or "operator."'
    )

    p = command(sub, "access-log", audit_commands.access_log, "show the newest access decisions")
    p.add_argument("--limit", type=_positive, default=50)
    _time_window(p)
    p.add_argument("--kiosk", metavar="KIOSK_ID", help="only decisions of this kiosk")
    p.add_argument(
        "--outcome",
        choices=[o.value for o in AccessOutcome],
        help="only these decisions; refused: recognised, but a rule refused (see refusal)",
    )

    command(
        sub,
        "passwd",
        operator_commands.change_own_password,
        "change your own password (new one: KIOSK_NEW_PASSWORD or a prompt)",
    )

    group = sub.add_parser(
        "operators",
        help="manage operators (admins)",
        description="manage operator accounts (admins only)",
    )
    ops = group.add_subparsers(required=True, metavar="ACTION", parser_class=_Parser)
    p = command(
        ops,
        "add",
        operator_commands.add,
        "add an operator (password: KIOSK_NEW_PASSWORD or a prompt)",
    )
    p.add_argument("username", metavar="USERNAME")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    command(ops, "list", operator_commands.list_operators, "list operators")
    for name, run, summary in (
        ("disable", operator_commands.disable, "disable an operator"),
        ("enable", operator_commands.enable, "enable a disabled operator"),
        (
            "reset-password",
            operator_commands.reset_password,
            "set another operator's password (KIOSK_NEW_PASSWORD or a prompt)",
        ),
    ):
        p = command(ops, name, run, summary)
        p.add_argument("username", metavar="USERNAME")
    p = command(ops, "set-role", operator_commands.set_role, "change an operator's role")
    p.add_argument("username", metavar="USERNAME")
    p.add_argument("role", choices=[r.value for r in Role])

    p = command(
        sub,
        "calibrate",
        calibrate.calibrate,
        "measure FMR/FNMR on a labelled dataset; recommend (and --apply) a threshold",
        operator=False,
    )
    p.add_argument(
        "--dataset",
        required=True,
        type=Path,
        metavar="DIR",
        help="one sub-folder of photos per person",
    )
    p.add_argument("--pairs", type=Path, metavar="FILE", help="LFW pairs.txt: compare only these")
    p.add_argument("--out", type=Path, default=Path("calibration-report"), metavar="DIR")
    p.add_argument("--target-fmr", type=_rate, default=1e-3, metavar="RATE")
    p.add_argument(
        "--gallery-size", type=_positive, metavar="N", help="default: people enrolled here"
    )
    p.add_argument(
        "--max-impostor",
        type=_positive_large,
        default=2_000_000,
        metavar="N",
        help="sample this many different-person comparisons when there are more",
    )
    p.add_argument(
        "--compare-model-dir",
        type=Path,
        action="append",
        metavar="DIR",
        help="another model pack to measure side by side (repeatable)",
    )
    p.add_argument("--no-cache", action="store_true", help="keep no embeddings of the photos")
    p.add_argument("--apply", action="store_true", help="store the recommended threshold")
    p.add_argument("--operator", metavar="USER", help="the admin applying it")

    group = sub.add_parser(
        "door",
        help="see the doors; lock down, release or unlock one (admins)",
        description="door commands, taken by the running kiosk through the database",
    )
    actions = group.add_subparsers(required=True, metavar="ACTION", parser_class=_Parser)
    p = command(actions, "status", door_commands.status, "each kiosk's door as last reported")
    p.add_argument("--kiosk", metavar="KIOSK_ID", help="only this kiosk's door")
    for name, run, summary in (
        ("lockdown", door_commands.lockdown, "refuse every grant and keep the door locked"),
        ("release", door_commands.release, "end a lockdown"),
        ("unlock", door_commands.unlock, "unlock the door now for --seconds"),
    ):
        p = command(actions, name, run, summary)
        p.add_argument("--kiosk", required=True, metavar="KIOSK_ID", help="whose door")
        p.add_argument("--reason", required=True, help="why, for the audit log")
        if name == "unlock":
            p.add_argument(
                "--seconds",
                required=True,
                type=_seconds,
                metavar="N",
                help="how long, from door_io.min_operator_unlock_s (1) to "
                "door_io.max_operator_unlock_s (3600)",
            )

    api_key_commands.add_commands(sub, command, _Parser)
    area_commands.add_commands(sub, command, _Parser)
    backup_commands.add_commands(sub, command, _Parser)
    export_commands.add_commands(sub, command, _Parser)

    add_rules_commands(sub, command, _Parser)

    group = sub.add_parser(
        "settings",
        help="show or change the settings kept in the database",
        description="settings shared by every kiosk, or set for one kiosk (--kiosk)",
    )
    actions = group.add_subparsers(required=True, metavar="ACTION", parser_class=_Parser)
    p = command(actions, "show", settings_commands.show, "the settings in effect", operator=False)
    settings_commands.add_kiosk_option(p)
    p = command(actions, "set", settings_commands.set_values, "change settings (admins)")
    p.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    settings_commands.add_kiosk_option(p)

    group = sub.add_parser(
        "config",
        help="show this machine's configuration",
        description=f"the configuration from {CONFIG_FILE} in the data folder, KIOSK_* "
        "variables and options, with where each value came from",
    )
    actions = group.add_subparsers(required=True, metavar="ACTION", parser_class=_Parser)
    command(
        actions,
        "show",
        config_commands.show,
        "the values in effect, secrets hidden",
        operator=False,
    )
    command(sub, "kiosks", commands.kiosks, "list the kiosks that use this database")
    command(sub, "version", config_commands.version, "the versions installed", operator=False)
    p = command(
        sub,
        "health",
        health.health,
        "check the database, the models and the camera",
        operator=False,
    )
    p.add_argument(
        "--camera",
        metavar="SOURCE",
        help="check this camera instead of the configured one; --no-camera skips it",
    )
    p.add_argument("--no-camera", action="store_true", help="do not check the camera")
    return parser


def _time_window(parser: argparse.ArgumentParser) -> None:
    for flag, what in (("--since", "from"), ("--until", "before")):
        parser.add_argument(
            flag,
            type=audit_commands.moment,
            metavar="TIME",
            help=f"only events {what} this ISO date or time (local time unless it has a zone)",
        )


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number like 1e-3") from error
    if not 0 < rate < 1:
        raise argparse.ArgumentTypeError(
            f"{rate:g} is out of range: give a rate above 0 and below 1, e.g. 1e-3"
        )
    return rate


def _positive_large(value: str) -> int:
    try:
        number = int(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from error
    if not 1 <= number <= 100_000_000:
        raise argparse.ArgumentTypeError(
            f"{number} is out of range: give a whole number from 1 to 100,000,000"
        )
    return number


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError("give a number of seconds above 0")
    return seconds


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from error
    if not 1 <= number <= 100_000:
        raise argparse.ArgumentTypeError(
            f"{number} is out of range: give a whole number from 1 to 100,000"
        )
    return number


if __name__ == "__main__":
    sys.exit(main())
