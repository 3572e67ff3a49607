"""Helpers shared by the CLI's commands."""

from __future__ import annotations

import argparse
import ipaddress
from typing import Any


class UsageError(Exception):
    """A mistake the user can fix: printed as one line, exit code 2."""


class Stopped(Exception):
    """The run could not go on (a full disk): printed as one line, exit code 1.

    What was done is kept (the journal is consistent): the same command, run
    again once the cause is fixed, finishes the job.
    """


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_command(commands: Any, name: str, summary: str, doc: str | None) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows its module docstring as written."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser
