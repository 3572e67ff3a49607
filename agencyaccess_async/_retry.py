"""Retry policy, and the one function that decides what a failed attempt may do next.

``decide`` is the only place that says what a failed attempt leads to, from
the operation's kind, the error and what the call has tried already
(``Tried``); the request loop only carries it out:

- a delete answered "not found" after an earlier attempt that may have
  arrived: done (that attempt deleted it);
- a 401 with a key from a provider, the first time: read the key again and
  resend (it may have been rotated meanwhile);
- a connection closed before any answer (most often a pooled one the server
  had closed), for anything but a create, the first time: resend at once on
  a new connection, not counted against the policy;
- never reached the server (connect error, pool timeout), a 429, or a 503
  with ``Retry-After``: resend, whatever the operation;
- reads, updates and deletes: resend on any transport error or 5xx (they
  are idempotent; a delete answered "not found" on a resend is done);
- a create whose outcome is unknown (read timeout, dropped connection, a 5xx
  other than 503-with-Retry-After, a garbled answer): reconcile, i.e. look
  the record up and only create again if it is not there;
- anything else (4xx, decode errors): final.
"""

from __future__ import annotations

import enum
import random
from types import TracebackType

import attrs

from ._errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    RemoteDisconnectedError,
    ServerError,
    TransportError,
)
from ._routes import Kind

__all__ = [
    "Action",
    "RetryPolicy",
    "TestingMode",
    "Tried",
    "decide",
    "plan_retry",
    "set_testing",
    "skipped_in_testing",
]

_testing = False


_recorded: list[float] | None = None


def set_testing(enabled: bool) -> TestingMode:
    """Make every wait between attempts instant (``True``), or real again (``False``).

    Takes effect at once; the ``TestingMode`` it returns is a context manager
    that puts the previous state back on exit (see there).
    """
    return TestingMode(enabled)


class TestingMode:
    """The testing mode ``set_testing`` switched to, and the way back to the one before.

    Instant means backoff, a server's ``Retry-After`` and the Session-wide
    pause after a 429 are not slept: they are recorded in ``waits`` instead,
    so fault tests run in milliseconds and can still check what would have
    been waited. Takes effect at once (a function to its callers, as in
    stamina), and is also a context manager that puts the previous state back
    on exit, so it nests::

        with set_testing(True) as waits:
            with set_testing(False):
                ...  # real waits here
            ...  # instant again here; waits lists what was skipped
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, enabled: bool) -> None:
        global _testing, _recorded
        self._previous = (_testing, _recorded)
        self.waits: list[float] = []
        _testing, _recorded = enabled, (self.waits if enabled else None)

    def __enter__(self) -> list[float]:
        return self.waits

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _testing, _recorded
        _testing, _recorded = self._previous


class Action(enum.Enum):
    """What to do after a failed attempt."""

    RETRY = "retry"
    RECONCILE = "reconcile"
    FAIL = "fail"
    DONE = "done"  # the earlier, unanswered attempt did it
    REFRESH_KEY = "refresh key"  # read the provider's key again, resend
    RESEND = "resend"  # at once, on a new connection, not counted


@attrs.frozen
class Tried:
    """What a call has done so far, as far as ``decide`` needs to know.

    ``maybe_done``: an earlier attempt may have been processed;
    ``refreshable``: the key comes from a provider; ``key_refreshed`` and
    ``resent`` say the once-only actions were taken.
    """

    maybe_done: bool = False
    refreshable: bool = False
    key_refreshed: bool = False
    resent: bool = False


@attrs.frozen
class RetryPolicy:
    """How hard one call tries: at most ``attempts`` requests within ``deadline`` seconds.

    The deadline bounds the whole call: an attempt still running when it comes
    is cut short (its total timeout is reduced to the time left).

    Waits between attempts grow exponentially from ``backoff_initial`` to
    ``backoff_max`` with full jitter (a random wait between 0 and the cap), so
    many tasks failing together do not come back together. A server's
    ``Retry-After`` is honoured when it asks for longer. ``RetryPolicy.none()``
    makes one attempt only.
    """

    attempts: int = attrs.field(default=6, validator=attrs.validators.ge(1))
    deadline: float = attrs.field(default=120.0, validator=attrs.validators.gt(0))
    backoff_initial: float = 0.2
    backoff_max: float = 10.0

    @classmethod
    def none(cls) -> RetryPolicy:
        """One attempt, no retries."""
        return cls(attempts=1)

    @classmethod
    def web(cls, deadline: float = 5.0) -> RetryPolicy:
        """For a call made while a web request waits: a few seconds in all, three attempts.

        Every wait is bounded by the deadline, the 429 pause included: a call
        that would wait longer fails at once with ``RateLimitError``, whose
        ``retry_after`` (and ``error_response``'s ``Retry-After``) says when to
        come back.
        """
        return cls(attempts=3, deadline=deadline, backoff_initial=0.1, backoff_max=1.0)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        wait = random.uniform(0, self._cap(attempt))
        if retry_after is not None:
            wait = max(wait, retry_after)
        return skipped_in_testing(wait)

    def _cap(self, attempt: int) -> float:
        return float(min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1)))


def skipped_in_testing(wait: float) -> float:
    """``wait``, or 0 in testing mode (where the wait is recorded, not slept)."""
    if not _testing:
        return wait
    if _recorded is not None:
        _recorded.append(wait)
    return 0.0


def decide(kind: Kind, error: BaseException, tried: Tried = Tried()) -> Action:
    """What an operation of ``kind`` may do after failing with ``error`` (see module doc)."""
    if tried.maybe_done and kind is Kind.DELETE and isinstance(error, NotFoundError):
        return Action.DONE
    if isinstance(error, AuthenticationError) and tried.refreshable and not tried.key_refreshed:
        return Action.REFRESH_KEY
    if (
        isinstance(error, RemoteDisconnectedError)
        and error.before_answer
        and kind is not Kind.CREATE  # a create is reconciled, as always
        and not tried.resent
    ):
        return Action.RESEND
    if isinstance(error, RateLimitError):
        return Action.RETRY
    if isinstance(error, TransportError):
        if not error.may_have_reached_server:
            return Action.RETRY
        return Action.RECONCILE if kind is Kind.CREATE else Action.RETRY
    if isinstance(error, ServerError):
        if error.status == 503 and error.retry_after is not None:
            return Action.RETRY
        return Action.RECONCILE if kind is Kind.CREATE else Action.RETRY
    return Action.FAIL


def plan_retry(
    policy: RetryPolicy, error: BaseException, action: Action, attempt: int, time_left: float
) -> tuple[float, float | None]:
    """After failed attempt number ``attempt``: (the key's pause, the wait before trying again).

    The pause (after a 429: its ``Retry-After``, else the backoff) holds every
    task of the key, this one included, so this call's own wait is then only
    the backoff. The wait is ``None`` when the error is final: ``action`` is
    to fail, no attempt is left (a reconcile always gets its lookup), or the
    pause or the wait would outlast the ``time_left`` before the deadline.
    """
    if action is Action.FAIL:
        return 0.0, None
    retry_after = getattr(error, "retry_after", None)
    pause = 0.0
    if isinstance(error, RateLimitError):
        pause = skipped_in_testing(
            retry_after if retry_after is not None else policy.backoff(attempt)
        )
        if pause >= time_left:
            return pause, None  # the pause outlasts this call: fail now, retry_after says when
        retry_after = None
    if attempt >= policy.attempts and action is not Action.RECONCILE:
        return pause, None
    wait = policy.backoff(attempt, retry_after)
    return pause, (None if wait >= time_left else wait)
