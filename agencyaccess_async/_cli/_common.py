"""Helpers shared by the CLI's commands."""

from __future__ import annotations

import argparse
import ipaddress
from typing import Any


class UsageError(Exception):
    """A mistake the user can fix: printed as one line, exit code 2."""


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
