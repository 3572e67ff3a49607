"""What makes a command fit for cron and CI: a JSON summary, a log file, asking before harm.

- ``--summary-json PATH``: the run's counts as JSON, written atomically
  (also after Ctrl-C), for the next step of a pipeline to read.
- ``--log-file PATH``: every line the command prints on stderr is also
  appended there, each with a UTC timestamp, so ``> log`` is not needed
  (and catches nothing: progress goes to stderr).
- ``confirm``: a question on a terminal; without one, ``--yes`` is required.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from ._common import UsageError, open_atomically

__all__ = [
    "add_any_account_option",
    "add_cron_options",
    "confirm",
    "logging_to",
    "timestamp",
    "write_summary",
]


def add_cron_options(parser: Any) -> None:
    """``--summary-json`` and ``--log-file``, on every command that changes records.

    ``parser`` is a parser or one of its argument groups (``add_argument`` on either).
    """
    parser.add_argument(
        "--summary-json",
        metavar="PATH",
        help="write the run's counts, requests and elapsed time there as JSON",
    )
    parser.add_argument(
        "--log-file",
        metavar="PATH",
        help="also append every message there, each line with a UTC timestamp",
    )


def add_any_account_option(parser: argparse.ArgumentParser) -> None:
    """``--any-account``, on the commands that check the key's account holds the file's records."""
    parser.add_argument(
        "--any-account",
        action="store_true",
        help="go on even when the key's account holds none of the file's first records "
        "(they were deleted elsewhere); by default that is taken for another agency's key",
    )


def timestamp() -> str:
    """Now, in UTC, to the second: ``2026-12-06T07:01:02Z``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_summary(path: str | None, summary: Mapping[str, Any]) -> None:
    """Write ``summary`` as JSON to ``path`` (if given), atomically."""
    if path is None:
        return
    try:
        with open_atomically(Path(path)) as handle:
            handle.write(json.dumps(summary, indent=2) + "\n")
    except OSError as error:
        raise UsageError(f"--summary-json {path}: cannot write it ({error.strerror})") from None


class _Tee:
    """stderr, with every complete line also appended (timestamped) to a log file."""

    def __init__(self, stream: TextIO, log: TextIO) -> None:
        self._stream = stream
        self._log = log
        self._pending = ""

    def write(self, text: str) -> int:
        self._stream.write(text)
        self._pending += text.replace("\r", "\n")
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._log.write(f"{timestamp()} {line.replace(chr(27) + '[K', '')}\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()
        self._log.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def logging_to(path: str | None) -> Iterator[None]:
    """While the command runs, copy what it prints on stderr into ``path`` (if given)."""
    if path is None:
        yield
        return
    try:
        log = Path(path).open("a", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as error:
        raise UsageError(f"--log-file {path}: cannot open it ({error.strerror})") from None
    original = sys.stderr
    tee = _Tee(original, log)
    sys.stderr = tee
    try:
        yield
    finally:
        sys.stderr = original
        if tee._pending.strip():
            log.write(f"{timestamp()} {tee._pending}\n")
        log.close()


def confirm(question: str, *, yes: bool, refusal: str) -> None:
    """Ask ``question`` on a terminal (y/N); without one, ``--yes`` must have been given.

    Raises ``UsageError`` with ``refusal`` when the answer is no or there is
    no one to ask.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{refusal}: add --yes to confirm (there is no terminal to ask on)")
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError(f"{refusal}: not confirmed")
