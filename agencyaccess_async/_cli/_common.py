"""Helpers shared by the CLI's commands."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO


class UsageError(Exception):
    """A mistake the user can fix: printed as one line, exit code 2."""


class Stopped(Exception):
    """The run could not go on (a full disk): printed as one line, exit code 1.

    What was done is kept (the journal is consistent): the same command, run
    again once the cause is fixed, finishes the job.
    """


@contextlib.contextmanager
def open_atomically(
    out: Path, *, encoding: str = "utf-8", newline: str | None = None
) -> Iterator[TextIO]:
    """A text file written beside ``out`` and renamed over it once the block ends.

    Never half-written: an error (a full disk, Ctrl-C) inside the block leaves
    ``out`` as it was, and no temporary file behind.
    """
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding=encoding, newline=newline) as handle:
            yield handle
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: The exit codes of a command that only reads or serves (``--help`` lists them).
EXIT_CODES = """exit codes:
  0    done
  1    the run could not go on (e.g. a full disk)
  2    a usage error (one line on stderr)
  130  stopped by Ctrl-C (143: SIGTERM)"""


def add_command(
    commands: Any, name: str, summary: str, doc: str | None, exit_codes: str = EXIT_CODES
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows its module docstring as written, and its exit codes."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=doc,
        epilog=exit_codes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def row_numbers(shown: Sequence[int], total: int) -> str:
    """Row numbers as a note shows them: the first few, and "…" when there are more."""
    return ", ".join(map(str, shown)) + (", …" if total > len(shown) else "")
