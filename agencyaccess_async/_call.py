"""One API call: its attempts, and what happens after each failed one.

``Call.run`` sends the request through the limiter and the transport,
applies the envelope rules, and on failure does what ``_retry.decide`` says:
wait and resend, reconcile an unanswered create (look the record up before
creating again), or give up with the error, its attempt count attached.
``run_call`` is the way in: it makes a first attempt that needs no waiting
itself, and builds a ``Call`` only for what follows a failure.

A Call knows its ``CallContext`` only: a limiter, hooks, counters, whether to
log bodies, and ``envelope`` to look a record up. The Requester is one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol, TypeVar

import attrs

from . import _idempotency
from ._errors import (
    AgencyAccessError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    TransportError,
)
from ._hooks import Hooks, RequestEvent, ResponseEvent, RetryEvent, SessionStats, emit, logger
from ._http import Request, Response, parse_response
from ._limiter import Limiter
from ._retry import Action, RetryPolicy, decide, skipped_in_testing
from ._routes import Kind, Route
from ._transport import Transport

__all__ = ["Call", "CallContext", "CallResult", "Finish", "run_call"]

T = TypeVar("T")

_DEBUG = 10


class CallContext(Protocol):
    """What a Call needs from whoever runs it (the Requester): narrow on purpose."""

    limiter: Limiter
    hooks: Hooks
    stats: SessionStats
    log_bodies: bool
    #: The event loop the calls run on, once known (read here, it saves asking
    #: asyncio, which on Python 3.11 makes a ``getpid`` system call each time).
    loop: asyncio.AbstractEventLoop | None

    async def envelope(
        self, route: Route[Any, Any], payload: Mapping[str, Any], retry: RetryPolicy
    ) -> Mapping[str, Any]:
        """Send one lookup and return its envelope."""
        ...

    def record(self, request: Request, result: CallResult) -> None:
        """Report a call that succeeded (``capture_responses`` listens)."""
        ...


class CallResult(NamedTuple):
    """How a call ended well: the envelope, the last response, attempts made, seconds taken.

    ``response`` is ``None`` when the record was found by reconciliation. (A
    NamedTuple: immutable with named fields, and built on every call, where a
    frozen attrs class costs measurably more.)
    """

    envelope: Mapping[str, Any]
    response: Response | None
    attempts: int
    elapsed: float


#: What ends a call that succeeded: its route and result in, what the caller gets out.
Finish = Callable[[Route[Any, Any], CallResult], T]


async def run_call(
    context: CallContext,
    transport: Transport,
    route: Route[Any, Any],
    payload: Mapping[str, Any],
    request: Request,
    policy: RetryPolicy,
    finish: Finish[T],
) -> T:
    """Make one call: its first attempt inline, a ``Call`` (the retry machinery) only if needed.

    Most calls are one attempt that succeeds at once. When the limiter admits
    the request without waiting, no hook or DEBUG log listens, and the
    attempt's timeout ends before the call's deadline, the attempt is sent
    here, with no ``Call`` object. A failed first attempt is handed to a
    ``Call`` that starts from it, as if it had made it. A call that succeeds
    is recorded, and ends with ``finish(route, result)`` (the decoding).
    """
    hooks = context.hooks
    timeout = request.timeout
    if (
        not hooks.on_request
        and not hooks.on_response
        and timeout is not None
        and timeout.total is not None
        and timeout.total <= policy.deadline
        and not logger.isEnabledFor(_DEBUG)
        and context.limiter.try_acquire()
    ):
        limiter = context.limiter
        loop = context.loop or asyncio.get_running_loop()
        started = loop.time()
        context.stats.requests += 1
        response: Response | None = None
        try:
            response = await transport.send(request)
        except AgencyAccessError as error:  # a TransportError, or an answer too large
            limiter.release(None)
            failure: AgencyAccessError = error
        except BaseException:
            limiter.release(None)
            raise
        else:
            limiter.release(response.headers)
            try:
                envelope = parse_response(response, operation=route.operation)
            except AgencyAccessError as error:
                failure = error
            else:
                result = CallResult(envelope, response, 1, loop.time() - started)
                context.record(request, result)
                return finish(route, result)
        call = Call(context, transport, route, payload, request, policy, started=started)
        result = await call.resume(failure, response)
    else:
        result = await Call(context, transport, route, payload, request, policy).run()
    context.record(request, result)
    return finish(route, result)


class Call:
    """The attempts of one call, retried within its policy's attempts and deadline."""

    __slots__ = ("_deadline", "_loop", "_maybe_done", "_started", "attempt", "context",
                 "payload", "policy", "request", "route", "transport")  # fmt: skip

    def __init__(
        self,
        context: CallContext,
        transport: Transport,
        route: Route[Any, Any],
        payload: Mapping[str, Any],
        request: Request,
        policy: RetryPolicy,
        *,
        started: float | None = None,
    ) -> None:
        self.context = context
        self.transport = transport
        self.route = route
        self.payload = payload
        self.request = request
        self.policy = policy
        self.attempt = 0
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.time() if started is None else started
        self._deadline = self._started + policy.deadline
        self._maybe_done = False  # an earlier attempt may have been processed

    async def run(self) -> CallResult:
        """Attempt until success, or raise the final error."""
        while True:
            self.attempt += 1
            response: Response | None = None
            try:
                response = await self._send()
                envelope = parse_response(response, operation=self.route.operation)
                return CallResult(
                    envelope, response, self.attempt, self._loop.time() - self._started
                )
            except _Refused as refused:
                refused.error.attempts = self.attempt - 1
                refused.error.operation = self.route.operation
                raise refused.error from None
            except AgencyAccessError as error:
                recovered = await self._recover(error, response)
                if recovered is not None:
                    return recovered

    async def resume(self, error: AgencyAccessError, response: Response | None) -> CallResult:
        """Go on from a first attempt made outside this Call (``run_call``) that failed."""
        self.attempt = 1
        recovered = await self._recover(error, response)
        return recovered if recovered is not None else await self.run()

    async def _send(self) -> Response:
        context = self.context
        limiter = context.limiter
        if not limiter.try_acquire():
            timeout = self.request.timeout
            # The limiter's wait counts against the attempt's total timeout and
            # the call's deadline, like a wait for a pooled connection.
            budget = self._deadline - self._loop.time()
            if timeout is not None and timeout.total is not None:
                budget = min(budget, timeout.total)
            try:
                await limiter.acquire(timeout.pool if timeout else None, max(budget, 0.0))
            except RateLimitError as error:
                raise _Refused(error) from None
        request = self._request_within_deadline()
        context.stats.requests += 1
        hooks = context.hooks
        if hooks.on_request:
            event = RequestEvent(request.operation, request.method, request.url.path,
                                 request.request_id or "", self.attempt)  # fmt: skip
            emit(hooks.on_request, event)
        started = time.perf_counter()
        try:
            response = await self.transport.send(request)
        except BaseException as exc:
            limiter.release(None)
            if isinstance(exc, TransportError):
                self._report(None, time.perf_counter() - started, exc)
            raise
        limiter.release(response.headers)
        if hooks.on_response or logger.isEnabledFor(_DEBUG):
            self._report(response, response.elapsed, None)
        return response

    def _request_within_deadline(self) -> Request:
        """The request, its total timeout cut so that the attempt ends by the call's deadline."""
        request, timeout = self.request, self.request.timeout
        left = self._deadline - self._loop.time()
        if timeout is None or (timeout.total is not None and timeout.total <= left):
            return request  # the common case: no new objects
        return attrs.evolve(request, timeout=attrs.evolve(timeout, total=max(left, 0.001)))

    def _report(
        self, response: Response | None, elapsed: float, error: BaseException | None
    ) -> None:
        """Tell hooks and the DEBUG log how an attempt ended (never headers: they hold the key)."""
        request = self.request
        status = response.status if response is not None else None
        hooks = self.context.hooks
        if hooks.on_response:
            event = ResponseEvent(request.operation, request.request_id or "", self.attempt,
                                  status, elapsed, repr(error) if error else None)  # fmt: skip
            emit(hooks.on_response, event)
        if logger.isEnabledFor(_DEBUG):
            bodies = ""
            if self.context.log_bodies:
                answer = response.body if response is not None else b""
                bodies = f" request_body={_text(request.body)} response_body={_text(answer)}"
            logger.debug(
                "%s %s -> %s attempt=%d elapsed=%.4fs request_id=%s%s",
                request.method, request.url.path,
                status if status is not None else type(error).__name__,
                self.attempt, elapsed, request.request_id, bodies,
            )  # fmt: skip

    async def _recover(
        self, error: AgencyAccessError, response: Response | None
    ) -> CallResult | None:
        """After a failed attempt: an outcome if the call is done, None to try again; or raise."""
        route = self.route
        if self._maybe_done and route.kind is Kind.DELETE and isinstance(error, NotFoundError):
            # The earlier, unanswered delete did it.
            return self._done({**self.payload, "deleted": True}, response)
        action = decide(route.kind, error)
        wait = self._wait_before_retry(error, action)
        if wait is None:
            if action is Action.RECONCILE:
                raise self._unknown(error, "no time left to look it up") from error
            error.attempts = self.attempt
            raise error
        self._announce_retry(error, action, wait)
        await asyncio.sleep(wait)
        if action is Action.RECONCILE:
            found = await self._reconcile(error)
            if found is not None:
                return self._done(found, None)
        self._maybe_done = (
            self._maybe_done
            or not isinstance(error, TransportError)
            or (error.may_have_reached_server)
        )
        return None

    def _done(self, data: Any, response: Response | None) -> CallResult:
        elapsed = self._loop.time() - self._started
        return CallResult({"error": False, "data": data}, response, self.attempt, elapsed)

    def _wait_before_retry(self, error: AgencyAccessError, action: Action) -> float | None:
        """Seconds to wait before trying again, or None if this error is final."""
        if action is Action.FAIL:
            return None
        policy = self.policy
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, RateLimitError):
            self.context.stats.rate_limited += 1
            pause = retry_after if retry_after is not None else policy.backoff(self.attempt)
            pause = skipped_in_testing(pause)
            self.context.limiter.pause(pause)
            if pause >= self._deadline - self._loop.time():
                return None  # the pause outlasts this call: fail now, retry_after says when
            retry_after = None  # the limiter now holds every task, this one included
        if self.attempt >= policy.attempts and action is not Action.RECONCILE:
            return None
        wait = policy.backoff(self.attempt, retry_after)
        return None if wait >= self._deadline - self._loop.time() else wait

    def _announce_retry(self, error: AgencyAccessError, action: Action, wait: float) -> None:
        context = self.context
        context.stats.retries += 1
        if context.hooks.on_retry:
            event = RetryEvent(self.route.operation, self.request.request_id or "", self.attempt,
                               wait, action.value, repr(error))  # fmt: skip
            emit(context.hooks.on_retry, event)
        logger.info(
            "%s attempt %d failed (%s); %s in %.2fs",
            self.route.operation, self.attempt, type(error).__name__, action.value, wait,
        )  # fmt: skip

    async def _reconcile(self, error: AgencyAccessError) -> Mapping[str, Any] | None:
        """Find the record an unanswered create may have made; raise if that cannot be told."""
        finder = _idempotency.FINDERS.get(self.route.operation)
        time_left = self._deadline - self._loop.time()
        if finder is None or time_left <= 0:
            raise self._unknown(error, "no way to look the record up")
        started_wall = time.time() - (self._loop.time() - self._started)
        lookup_policy = attrs.evolve(self.policy, deadline=time_left)
        try:
            found: Mapping[str, Any] | None = await finder(
                self.context.envelope,
                self.payload,
                started_wall - _idempotency.CLOCK_SKEW,
                lookup_policy,
            )
        except AgencyAccessError as lookup_error:
            raise self._unknown(error, f"the lookup failed: {lookup_error}") from lookup_error
        if found is not None:
            self.context.stats.reconciled += 1
            return found
        if self.attempt >= self.policy.attempts:
            error.attempts = self.attempt
            raise error  # provably not created: a plain failure
        return None

    def _unknown(self, error: AgencyAccessError, why: str) -> OutcomeUnknownError:
        operation = self.route.operation
        unknown = OutcomeUnknownError(
            f"{operation}: outcome unknown after {self.attempt} attempt(s) ({error!s}); {why}",
            operation=operation,
            idempotency_key=_idempotency.idempotency_key(operation, self.payload),
            last_error=error,
        )
        unknown.attempts = self.attempt
        unknown.__cause__ = error
        return unknown


class _Refused(Exception):
    """Carries an error that ends the call before its attempt was sent (no retry)."""

    def __init__(self, error: RateLimitError) -> None:
        super().__init__(str(error))
        self.error = error


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")
