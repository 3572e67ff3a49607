"""Where a command sends, with which key and services, and a first check that it works.

Shared by the commands that send (``onboard``, ``update``, ``delete``):
the target (a ``--base-url`` or the hosted API with ``AGENCYACCESS_API_KEY``,
else, for ``onboard``, an emulator started in-process), the services file,
and one cheap call first so that a wrong key or URL is one line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from yarl import URL

from .._errors import (
    APIError,
    AuthenticationError,
    DecodeError,
    InvalidServiceError,
    SessionError,
    TransportError,
)
from .._hooks import logger
from .._http import redacted_url
from .._retry import RetryPolicy
from .._services import RequestedServices, advise
from .._session import Session, checked_base_url
from ._common import UsageError, is_loopback

__all__ = [
    "CHECK_RETRY",
    "EMBEDDED_KEY",
    "EMBEDDED_TARGET",
    "check_access",
    "check_base_url_option",
    "embedded",
    "load_services",
    "reaching",
    "show_warnings",
    "target",
    "to_loopback",
]


def check_base_url_option(base_url: str | None) -> None:
    """A ``--base-url`` the Session would refuse, as one line naming the option."""
    if base_url is not None:
        try:
            checked_base_url(base_url)
        except SessionError as error:
            raise UsageError(f"--base-url: {error}") from None


def show_warnings() -> None:
    """The SDK's warnings (a service the catalog does not know, a capped wait) as one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("onboard: warning: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(min(logger.getEffectiveLevel(), logging.WARNING))


def load_services(path: str, *, strict: bool) -> Mapping[str, Any]:
    """The services file's JSON, to send as it is; checked against the catalog as advice."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read it ({error})") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}: not JSON (line {error.lineno}: {error.msg})") from None
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply to be requested services") from None
    if isinstance(raw, dict) and set(raw) == {"requestedServices"}:
        raw = raw["requestedServices"]
    try:
        advise(raw, strict=strict)
        RequestedServices.from_json(raw, validate=False)  # the shape the rows are checked with
    except InvalidServiceError as error:
        raise UsageError(f"{path}: {error.msg}") from None
    return cast("Mapping[str, Any]", raw)


CHECK_RETRY = RetryPolicy(attempts=4, deadline=15)
"""Enough tries that a dropped connection or two does not end the run (waits of ~1.4 s at
most, so an unreachable URL is still reported promptly)."""


@contextlib.contextmanager
def reaching(session: Session) -> Iterator[None]:
    """A refused key or an unreachable API, within the block, as one line (a ``UsageError``)."""
    try:
        yield
    except AuthenticationError:
        raise UsageError(f"{redacted_url(session.base_url)} refused the API key (401)") from None
    except TransportError as error:
        raise UsageError(
            f"cannot reach {redacted_url(session.base_url)}: {error.message}"
        ) from None


async def check_access(session: Session) -> None:
    """One cheap call first, so a wrong key or URL is one line, not a failure on every row."""
    try:
        with reaching(session):
            await session.clients.list(limit=1, retry=CHECK_RETRY).page()
    except SessionError as error:  # e.g. a shared rate limit whose Redis cannot be reached
        raise UsageError(str(error)) from None
    except (APIError, DecodeError):
        pass  # e.g. a key without clients:retrieve: the rows will say what they can


def embedded(args: argparse.Namespace) -> bool:
    """Whether this run goes to an embedded emulator: no --base-url and no key."""
    return not args.base_url and not os.environ.get("AGENCYACCESS_API_KEY")


#: What the journal of an embedded emulator's run names as its target and key: its
#: address changes with every run, so a re-run of the same command finishes at once.
EMBEDDED_TARGET = "embedded-emulator"
EMBEDDED_KEY = "aa_embedded_emulator"


@contextlib.asynccontextmanager
async def target(base_url: str | None) -> AsyncIterator[tuple[str | None, str | None]]:
    """Where to send: the given URL, the hosted API with a key, or an embedded emulator."""
    api_key = os.environ.get("AGENCYACCESS_API_KEY")
    if base_url or api_key:
        if not api_key:
            raise UsageError("set AGENCYACCESS_API_KEY to use --base-url")
        yield base_url, api_key
        return
    from ..emulator import EmulatorConfig, EmulatorServer

    async with EmulatorServer(EmulatorConfig(api_key=EMBEDDED_KEY)) as emulator:
        print(
            f"onboard: no AGENCYACCESS_API_KEY and no --base-url: using an embedded emulator at "
            f"{emulator.base_url} (nothing leaves this machine; its invite links are an "
            "emulator's and stop working when this command ends)",
            file=sys.stderr,
        )
        yield emulator.base_url, emulator.api_key


def to_loopback(base_url: str | None) -> bool:
    """Whether a run sends to this machine (an emulator): no question before e-mailing."""
    return base_url is not None and is_loopback(URL(base_url).host or "")
