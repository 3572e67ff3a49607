"""The ``agencyaccess-async`` command line: onboard, then status, update, delete; emulator, doctor.

Every failure the user can fix is one line on stderr and exit code 2; no
tracebacks for bad input.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from .._version import __version__
from ._change import add_change_commands
from ._common import Stopped, UsageError
from ._doctor import add_doctor_command
from ._emulator import add_emulator_command
from ._onboard import add_onboard_command
from ._status import add_status_command

__all__ = ["command_help", "main"]

_STOPPED_BY = {128 + signal.SIGINT: "SIGINT", 128 + signal.SIGTERM: "SIGTERM"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    return _parsers()[0]


def command_help(command: str) -> str:
    """``agencyaccess-async COMMAND --help`` as it prints (the docs site shows it)."""
    return _parsers()[1][command].format_help()


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="agencyaccess-async",
        description="AgencyAccess from the command line: batch onboarding and a local emulator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_onboard_command(commands)
    add_status_command(commands)
    add_change_commands(commands)
    add_emulator_command(commands)
    add_doctor_command(commands)
    return parser, dict(commands.choices)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return its exit code.

    0 ok, 1 some rows failed, 2 usage error, 130 / 143 stopped by SIGINT / SIGTERM.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except UsageError as error:
        print(f"agencyaccess-async {args.command}: error: {error}", file=sys.stderr)
        return 2
    except Stopped as error:
        print(f"agencyaccess-async {args.command}: stopped: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the command's own handler was installed
        code = 128 + signal.SIGINT
    if code in _STOPPED_BY:
        print(f"interrupted ({_STOPPED_BY[code]})", file=sys.stderr)
    return code
