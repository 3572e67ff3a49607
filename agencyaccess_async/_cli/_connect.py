"""Where a command sends, with which key and services, and a first check that it works.

Shared by the commands that send (``onboard``, ``status``, ``update``,
``delete``): the API key, read exactly as the SDK reads it; the target (a
``--base-url``, the base URL a results file was onboarded against, or the
hosted API; for ``onboard --emulator``, an emulator started in-process and
nothing else); the services file; and one cheap call first so that a wrong
key or URL is one line.

The target is never a surprise: with no key and no ``--emulator`` a command
refuses in one line naming both, and a rehearsal says so in every report.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import attrs
from yarl import URL

from .._auth import KEY_ENV, KEY_FILE_ENV, key_from_environment
from .._errors import (
    APIError,
    AuthenticationError,
    DecodeError,
    InvalidServiceError,
    NotFoundError,
    SessionError,
    TransportError,
)
from .._hooks import logger
from .._http import redacted_url, target_url
from .._retry import RetryPolicy
from .._services import RequestedServices, advise
from .._session import DEFAULT_BASE_URL, Session, checked_base_url
from ._common import UsageError, is_loopback

__all__ = [
    "CHECK_RETRY",
    "EMBEDDED_KEY",
    "EMBEDDED_TARGET",
    "REHEARSAL_LABEL",
    "Target",
    "read_api_key",
    "check_access",
    "check_account",
    "check_base_url_option",
    "load_services",
    "no_key",
    "reaching",
    "show_warnings",
    "to_loopback",
]


def check_base_url_option(base_url: str | None) -> None:
    """A ``--base-url`` the Session would refuse, as one line naming the option."""
    if base_url is not None:
        try:
            checked_base_url(base_url)
        except SessionError as error:
            raise UsageError(f"--base-url: {error}") from None


def show_warnings(command: str) -> None:
    """The SDK's warnings (a service the catalog does not know, a capped wait) as one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{command}: warning: %(message)s"))
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
        raise UsageError(f"{path}: {error.message}") from None
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


#: How many of a file's records ``check_account`` looks for before it concludes.
_SAMPLE = 3


async def check_account(session: Session, kind: str, ids: Iterable[str], path: Path) -> None:
    """Proof that this key's account holds the file's records, before anything is changed.

    Another agency's key (or another server) would find none of them: every
    delete would then be "gone" and every status "not found", and the run
    would end calmly with nothing true in it. The first few of ``ids``
    (``kind`` is ``clients`` or ``links``) are retrieved; the first one found
    is proof enough. A key that may not retrieve them cannot tell, and is let
    through. With no ids, a wrong key or URL is still one line.
    """
    sample = list(itertools.islice(ids, _SAMPLE))
    if not sample:
        await check_access(session)
        return
    resource = session.clients if kind == "clients" else session.links
    with reaching(session):
        for item in sample:
            try:
                await resource.retrieve(item, retry=CHECK_RETRY)
                return
            except NotFoundError:
                continue
            except (APIError, DecodeError):
                return  # e.g. a key without retrieve: the rows will say what they can
    raise UsageError(
        f"this API key's account at {redacted_url(session.base_url)} holds none of the first "
        f"{len(sample)} {kind} of {path.name} ({', '.join(sample)}): is it another agency's "
        "key, or another server? Use the key the file was onboarded with, or pass "
        "--any-account if they were deleted elsewhere"
    )


def read_api_key() -> str | None:
    """The API key, read exactly as the SDK reads it; an unreadable key file is one line.

    ``$AGENCYACCESS_API_KEY``, else the file named by ``$AGENCYACCESS_API_KEY_FILE``.
    """
    try:
        return key_from_environment()
    except SessionError as error:
        raise UsageError(str(error)) from None


def no_key(purpose: str) -> UsageError:
    """The one line for a command that needs a key and has none, naming both ways to give it."""
    return UsageError(
        f"no API key: set {KEY_ENV}, or {KEY_FILE_ENV} to a file holding it, {purpose}"
    )


#: What the journal of an embedded emulator's run names as its target and key: its
#: address changes with every run, so a re-run of the same command finishes at once.
EMBEDDED_TARGET = "embedded-emulator"
EMBEDDED_KEY = "aa_embedded_emulator"
#: What every report of a rehearsal says where a real run names its base URL (the
#: results file's ``target`` column, the summary JSON, the log).
REHEARSAL_LABEL = "embedded emulator: a rehearsal; these invite links do not work"


@attrs.frozen
class Target:
    """Where a command sends: a base URL and a key, or (``rehearsal``) an embedded emulator.

    ``base_url`` is None for an embedded emulator until it runs (its port is
    new each time) and for the default (``$AGENCYACCESS_BASE_URL``, else the
    hosted API, as the Session reads it).
    """

    base_url: str | None
    key: str | None = attrs.field(repr=False)
    rehearsal: bool = False

    @classmethod
    def of(cls, base_url: str | None, *, emulator: bool, command: str) -> Target:
        """The target of ``--base-url`` and ``--emulator``, or one line saying what is missing."""
        if emulator:
            if base_url:
                raise UsageError(
                    "--emulator and --base-url: choose one (--emulator starts an emulator in "
                    "this process and sends nothing elsewhere)"
                )
            return cls(None, None, rehearsal=True)
        key = read_api_key()
        if not key:
            raise no_key(
                f"to {command} for real; or pass --emulator to rehearse against an embedded "
                "emulator (nothing leaves this machine)"
            )
        return cls(base_url, key)

    @property
    def shown(self) -> str:
        """Where this target sends, as a person should read it (no password, no key)."""
        if self.rehearsal:
            return "an embedded emulator (--emulator: a rehearsal, nothing leaves this machine)"
        base = self.base_url or os.environ.get("AGENCYACCESS_BASE_URL") or DEFAULT_BASE_URL
        return redacted_url(URL(base))

    @contextlib.asynccontextmanager
    async def reached(self) -> AsyncIterator[tuple[str | None, str]]:
        """The base URL and key to send with, an embedded emulator running meanwhile."""
        if not self.rehearsal:
            assert self.key is not None
            yield self.base_url, self.key
            return
        from ..emulator import EmulatorConfig, EmulatorServer

        async with EmulatorServer(EmulatorConfig(api_key=EMBEDDED_KEY)) as emulator:
            print(
                f"onboard: --emulator: a rehearsal against an embedded emulator at "
                f"{emulator.base_url} (nothing leaves this machine; its invite links are an "
                "emulator's and stop working when this command ends)",
                file=sys.stderr,
            )
            yield emulator.base_url, emulator.api_key


def recorded_target(
    recorded: str | None, base_url: str | None, *, path: Path, command: str
) -> Target:
    """Where ``command`` sends for a results file: where the file was onboarded.

    That is its ``target`` column (``recorded``), unless ``--base-url`` says
    otherwise, which wins with a note. ``$AGENCYACCESS_BASE_URL`` does not
    override the file: an environment set for another job must not send one
    job's changes to another server. Nor does the file alone send the key
    anywhere: a recorded target that is not the hosted API, this machine or
    ``$AGENCYACCESS_BASE_URL`` must be named with ``--base-url``.
    """
    if recorded == REHEARSAL_LABEL:
        raise UsageError(
            f"{path} holds the results of a rehearsal (onboard --emulator): its clients and "
            "links existed only in an emulator that has stopped; onboard with an API key to "
            f"get results to {command}"
        )
    key = read_api_key()
    if not key:
        raise no_key(f"the key of the account {path.name} was onboarded with")
    if base_url:
        if recorded and _comparable(base_url) != recorded:
            print(
                f"{command}: note: --base-url {redacted_url(URL(base_url))} is not where "
                f"{path.name} was onboarded ({recorded}); sending to --base-url as given",
                file=sys.stderr,
            )
        return Target(base_url, key)
    if recorded:
        environment = os.environ.get("AGENCYACCESS_BASE_URL")
        trusted = (
            recorded == _comparable(DEFAULT_BASE_URL)
            or is_loopback(URL(recorded).host or "")
            or (environment is not None and _comparable(environment) == recorded)
        )
        if not trusted:  # a file, shared or edited, never chooses where the key goes
            raise UsageError(
                f"{path.name} was onboarded against {recorded}, which is neither the hosted API "
                f"nor $AGENCYACCESS_BASE_URL: pass --base-url {recorded} to send the API key there"
            )
        if environment and _comparable(environment) != recorded:
            print(
                f"{command}: note: sending to {recorded}, where {path.name} was onboarded, not "
                "to $AGENCYACCESS_BASE_URL (pass --base-url to choose another)",
                file=sys.stderr,
            )
        return Target(recorded, key)
    return Target(None, key)  # a file of an earlier version, which did not record it


def _comparable(base_url: str) -> str:
    """A base URL as a results file records it: normalised, without credentials."""
    try:
        return target_url(checked_base_url(base_url))
    except SessionError:
        return base_url


def to_loopback(base_url: str | None) -> bool:
    """Whether a run sends to this machine (an emulator): no question before e-mailing."""
    return base_url is not None and is_loopback(URL(base_url).host or "")
