"""The Session-wide limiter: a concurrency semaphore plus rate pacing.

Three brakes, all shared by every task of a Session:

1. at most ``max_concurrency`` requests in flight;
2. pacing at a configured rate: requests are spaced ``1/rate`` seconds apart
   from the very first one (no start-up burst);
3. a mirror of the server's window, learnt from ``X-RateLimit-Limit``,
   ``-Remaining`` and ``-Reset``: each send spends one request of the window
   (requests still in flight are subtracted from what the server reports),
   and when it is spent every task waits for the reset, so the limit is met
   before the server has to say so. Until the first answer tells the limit,
   one request goes alone. A 429 pauses every task until ``Retry-After``.

Every wait is bounded by the caller's time budget: a request that would have
to wait past it (a long pause, a window reset far away, pacing) is refused at
once with a ``RateLimitError`` whose ``retry_after`` says how long it would
have waited, and the other tasks keep their own budgets. A server that asks
for an absurd wait (a reset beyond ``MAX_SERVER_WAIT``) is capped and logged.

The clock and the sleep are injectable, so pacing and deadlines are tested
on virtual time rather than on a busy machine's wall clock.

Measured against the emulator (benchmarks/bench_ratelimit.py) the mirror
alone reaches the advertised rate with no 429s; pacing below the advertised
rate on top of it only cost throughput, so pacing applies to a configured
rate only.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from ._errors import RateLimitError, RequestTimeoutError
from ._hooks import logger
from ._http import MAX_SERVER_WAIT, header_number

__all__ = ["NEW_WINDOW", "Limiter", "SharedBudget", "too_long"]

# Extra wait past a reset: the header's rounding (to the millisecond, say) and
# the loop's timer. The reset itself is already the latest the window can end.
_RESET_MARGIN = 0.002
# Requests sent alone at the start, at most, waiting for an answer that tells
# the limit (an answer can be lost, or a server may never send the headers).
_PROBES = 3
#: A server reset this much later than the last one means the server started a new window.
NEW_WINDOW = 0.05
_FOREVER = float("inf")
#: The largest request budget a window may advertise: more is a garbled header.
_LARGEST_LIMIT = 1e9


async def _wait(future: asyncio.Future[None], timeout: float | None) -> bool:
    """Wait until ``future`` is done or ``timeout`` passes; whether it is done.

    ``asyncio.wait`` rather than ``wait_for``: before Python 3.12, ``wait_for``
    can swallow a cancellation that arrives as the future completes, and a
    task that ignores its cancellation hangs whoever is shutting it down.
    The future itself is never cancelled here (others may share it).
    """
    if timeout is None:
        await asyncio.shield(future)
        return True
    await asyncio.wait((future,), timeout=max(timeout, 0.0))
    return future.done()


def too_long(wait: float, reason: str) -> RateLimitError:
    """The error of a request refused because its rate-limit wait would outlast its deadline.

    Its ``status`` is 0, as for every refusal made here before anything is sent:
    no server answered 429.
    """
    return RateLimitError(
        f"rate limit: {reason} would hold this request {wait:.3g}s, past its deadline",
        status=0,
        retry_after=wait,
    )


class SharedBudget(Protocol):
    """A rate budget shared with other processes: the one seam a ``Limiter`` paces through.

    ``RedisLimiter`` is a ``Limiter`` composed with one (its Redis budget).
    While the budget is shared, it does the pacing and the limiter keeps only
    its concurrency slots, its probe and the 429 pause; while it is not (its
    store is unreachable, or it has no name yet), the limiter paces as a
    local one at the interval the budget gives, with its window mirror.
    """

    def shared(self) -> bool:
        """Whether the budget paces now (``False``: the limiter's own brakes hold)."""
        ...

    async def reserve(self, budget: float) -> float | None:
        """Reserve the next slot: the wait for it, negative (nothing reserved) if past ``budget``.

        ``None`` when the budget just failed and the request is paced locally.
        """
        ...

    def paused(self, seconds: float) -> None:
        """A 429 paused this process for ``seconds``: pause the others too."""
        ...

    def learned(self, limit: int, window: float, remaining: float, reset: float) -> None:
        """An answer advertised the server's window (as the limiter's mirror now holds it)."""
        ...

    def fallback_interval(self) -> float:
        """Seconds between this process's requests while not shared (0: not paced)."""
        ...


class Limiter:
    """Admission control for one Session's requests (see the module doc)."""

    #: The budget shared with other processes that paces this limiter, if any
    #: (set by a subclass that composes one: ``RedisLimiter``).
    _shared: SharedBudget | None = None

    def __init__(
        self,
        max_concurrency: int,
        rate: float | None = None,
        on_wait: Callable[[float, str], None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.max_concurrency = max_concurrency
        self._slots = max_concurrency
        self._slot_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._interval = 1.0 / rate if rate else 0.0
        self._next_slot = 0.0
        self.on_wait = on_wait
        self._clock = clock
        self._sleep_for = sleep
        self._paused_until = 0.0
        # The mirror of the server's window; None until an answer advertises it.
        self._limit: int | None = None
        self._remaining = 0
        self._reset_at = 0.0
        self._window = 0.0
        # When the mirror's window opened, and the earliest end an answer to a
        # request sent since has shown (see _observe).
        self._opened = 0.0
        self._earliest_end = _FOREVER
        self._in_flight = 0
        self._probe: asyncio.Future[None] | None = None
        self._probes_left = _PROBES
        self._probe_task: asyncio.Task[object] | None = None
        self._learned = False

    @property
    def rate(self) -> float | None:
        """The requests per second it lets through, or ``None`` while that is unknown.

        The rate it was given (for a ``RedisLimiter`` away from Redis, this
        process's share); else the budget the server advertised
        (``X-RateLimit-Limit`` over its window), once an answer showed it. A
        progress display's ETA starts from it, before the run has a pace.
        """
        interval = self._pacing_interval()
        if interval > 0:
            return 1.0 / interval
        if self._limit is not None and self._window > 0:
            return self._limit / self._window
        return None

    def attach(self, base_url: str, key_fingerprint: str) -> None:
        """Learn which API target this limiter paces (a shared limiter names its budget so)."""

    def sibling(self) -> Limiter:
        """A new limiter like this one, for another API key: its own budget and pauses."""
        rate = 1.0 / self._interval if self._interval else None
        return Limiter(self.max_concurrency, rate, clock=self._clock, sleep=self._sleep_for)

    async def aclose(self) -> None:
        """Release what the limiter holds (nothing here; a shared limiter's connections)."""

    def try_acquire(self) -> bool:
        """Take a slot at once when nothing needs waiting (the common case), else False.

        The fast path of ``acquire``: no coroutine, no suspension. The clock is
        read only when a window is known (has it reset?) or a pause was set.
        """
        if self._slots <= 0 or self._slot_waiters or not self._learned or self._interval:
            return False
        if self._shared is not None:  # every admission asks the shared budget
            return False
        if self._paused_until or self._limit is not None:
            now = self._clock()
            if self._paused_until or now >= self._reset_at or self._remaining <= 0:
                if self._hold(now)[0]:
                    return False
            else:
                self._remaining -= 1  # what _hold does in the window's ordinary case
        self._slots -= 1
        self._in_flight += 1
        return True

    async def acquire(self, pool_timeout: float | None = None, budget: float | None = None) -> None:
        """Wait for a concurrency slot and the pacing; ``release()`` must follow.

        ``budget`` is how many seconds the caller can spend here at most: a
        wait for the rate limit that would outlast it raises ``RateLimitError``
        at once (``retry_after`` is the wait), and the wait for a slot or for the
        probe's answer ends with a pool ``RequestTimeoutError`` when it runs out.
        """
        deadline = self._clock() + budget if budget is not None else _FOREVER
        if budget is not None:
            pool_timeout = budget if pool_timeout is None else min(pool_timeout, budget)
        await self._take_slot(pool_timeout)
        try:
            await self._admit(deadline)
        except BaseException:
            self._give_slot()
            if self._probe_task is asyncio.current_task():
                self._next_probe()  # a cancelled probe must not hold everyone back
            raise
        self._in_flight += 1

    def release(
        self, headers: Mapping[str, str] | None = None, elapsed: float | None = None
    ) -> None:
        """Give the slot back, learning from the answer's rate-limit headers if any.

        ``elapsed`` is how long ago the request was sent, which tells whether
        the server counted it in the mirror's window (unknown: maybe not).
        The slot is given back first, whatever the headers hold: a garbled
        header is ignored (``_observe`` never raises), so no answer can keep
        a slot or the probe.
        """
        self._in_flight -= 1
        if self._slot_waiters:
            self._give_slot()
        else:  # what _give_slot does when no one waits
            self._slots += 1
        learned = self._observe(headers, elapsed) if headers is not None else False
        if not self._learned and self._probe is not None:
            self._probes_left -= 1
            if learned or self._probes_left <= 0:
                self._end_probe()
            else:
                self._next_probe()

    async def _take_slot(self, pool_timeout: float | None) -> None:
        """Take one of the ``max_concurrency`` slots, first come first served."""
        if self._slots > 0 and not self._slot_waiters:
            self._slots -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        try:
            if not await _wait(waiter, pool_timeout):
                raise RequestTimeoutError(
                    "no free slot within the pool timeout",
                    kind="pool",
                    may_have_reached_server=False,
                )
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._give_slot()  # a slot was handed over as we left: pass it on
            else:
                waiter.cancel()
                if waiter in self._slot_waiters:  # _give_slot may have dropped it already
                    self._slot_waiters.remove(waiter)
            raise

    def _give_slot(self) -> None:
        """Hand the slot to the longest waiter, or put it back."""
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._slots += 1

    def _end_probe(self) -> None:
        """The limit is known, or the server will not say: let everyone go."""
        if not self._learned and self._probe is not None:
            self._learned = True
            if not self._probe.done():
                self._probe.set_result(None)

    def _next_probe(self) -> None:
        """The probe came back without the limit (a dropped answer): let one more go alone."""
        probe, self._probe, self._probe_task = self._probe, None, None
        if probe is not None and not probe.done():
            probe.set_result(None)

    def pause(self, seconds: float) -> None:
        """Hold every request of the Session for ``seconds`` (after a 429).

        The window mirror counts the window as spent too. A pause of 0 (testing
        mode's, where waits are recorded, not slept) holds nothing.
        """
        if seconds <= 0:
            return
        until = self._clock() + min(seconds, MAX_SERVER_WAIT)
        if until > self._paused_until:
            self._paused_until = until
        if self._limit is not None:
            self._remaining = 0
            self._reset_at = max(self._reset_at, until)
        if self._shared is not None:
            self._shared.paused(seconds)

    def _pacing_interval(self) -> float:
        """Seconds between requests paced here: the configured rate's, or a fallback's share."""
        return self._shared.fallback_interval() if self._shared is not None else self._interval

    async def _admit(self, deadline: float) -> None:
        """The probe, then the shared budget while it paces, then the local brakes."""
        # The probe first: a slot reserved before the rate is known would not be paced.
        await self._wait_for_probe(deadline)
        shared = self._shared
        while shared is not None and shared.shared():
            now = self._clock()
            wait = await shared.reserve(deadline - now)
            if wait is None:  # it failed just now: paced locally below
                break
            if wait < 0:  # the slot is further off than the deadline: nothing reserved
                raise too_long(-wait, "the shared rate limit")
            if wait > 0:
                await self._sleep(wait, "shared rate limit", now, deadline)
            paused = self._paused_until - self._clock()
            if paused <= 0:
                break
            # A 429 paused everyone while this slot was waited for: a slot inside the
            # pause is void (all such would go at its end together). Wait, reserve again.
            await self._sleep(paused, "paused after a 429", self._clock(), deadline)
        await self._admit_locally(deadline)

    async def _admit_locally(self, deadline: float) -> None:
        """After the probe: the shared pause, the window mirror, then pacing."""
        while True:
            now = self._clock()
            wait, reason = self._hold(now)
            if not wait:
                break
            await self._sleep(wait, reason, now, deadline)
        interval = self._pacing_interval()
        if interval:
            slot = max(now, self._next_slot)
            if slot > deadline:
                raise too_long(slot - now, "pacing at the configured rate")
            self._next_slot = slot + interval
            if slot > now:
                await self._sleep(slot - now, "pacing", now, deadline)

    def _hold(self, now: float) -> tuple[float, str]:
        """Seconds to hold a request, and why; 0 means admitted (a window slot is spent)."""
        if self._paused_until > now:
            return self._paused_until - now, "paused after a 429"
        self._paused_until = 0.0  # over (or never set): try_acquire may skip this again
        # While a shared budget paces, this process's mirror would hold its requests
        # until the window resets, then let them go together: a burst it avoids.
        if self._limit is not None and (self._shared is None or not self._shared.shared()):
            if now >= self._reset_at:
                # A request still in flight may reach the server after its reset
                # and count in the new window: the mirror counts it there.
                self._remaining = self._limit - self._in_flight
                self._reset_at = now + self._window  # a guess, until an answer bounds it
                self._opened, self._earliest_end = now, _FOREVER
            if self._remaining <= 0:
                return self._reset_at - now + _RESET_MARGIN, "window used up"
            self._remaining -= 1
        return 0.0, ""

    async def _wait_for_probe(self, deadline: float) -> None:
        while not self._learned:
            if self._probe is None:
                self._probe = asyncio.get_running_loop().create_future()  # this one is the probe
                self._probe_task = asyncio.current_task()
                return
            left = None if deadline == _FOREVER else deadline - self._clock()
            if not await _wait(self._probe, left):
                raise RequestTimeoutError(
                    "the first request, which tells the rate limit, did not come back in time",
                    kind="pool",
                    may_have_reached_server=False,
                )

    async def _sleep(self, delay: float, reason: str, now: float, deadline: float) -> None:
        """Wait ``delay`` seconds for the rate limit; refuse at once if that passes ``deadline``."""
        if now + delay > deadline:
            raise too_long(delay, reason)
        if self.on_wait is not None:
            self.on_wait(delay, reason)
        await self._sleep_for(delay)

    def _observe(self, headers: Mapping[str, str], elapsed: float | None) -> bool:
        """Update the window mirror from an answer; ``True`` if it advertised the limit.

        The server counted the request at some moment between its sending
        (``elapsed`` seconds ago) and now, and said then how long its window
        had left: ``now + reset`` is the latest the window can end. Each answer
        to a request sent since the mirror's window opened bounds that same
        window, and the earliest bound is kept (the answers that waited
        longest on the way back give the loosest). The send time would be
        tighter still, but it is not safe: a request can wait longer than the
        ones before it to be counted, and arrive before the window's end.
        An answer to a request sent earlier, or one whose bound lies half a
        window before the mirror's end (the server counted it in a window
        that is over: the mirror moved on to a newer one meanwhile), may only
        postpone the reset.

        Each value must be a finite number of at least 0 (``header_number``),
        and the limit at least 1 and believable; anything else is ignored, so
        the mirror keeps what it knew.
        """
        limit = header_number(headers.get("X-RateLimit-Limit"), "X-RateLimit-Limit")
        remaining = header_number(headers.get("X-RateLimit-Remaining"), "X-RateLimit-Remaining")
        reset = header_number(headers.get("X-RateLimit-Reset"), "X-RateLimit-Reset")
        if limit is None or remaining is None or reset is None:
            return False
        if not 1 <= limit <= _LARGEST_LIMIT:
            logger.debug("ignoring X-RateLimit-Limit: %s is not a believable budget", limit)
            return False
        remaining = min(remaining, limit)
        if reset > MAX_SERVER_WAIT:
            logger.warning(
                "X-RateLimit-Reset of %ss is absurd; waiting %ss at most", reset, MAX_SERVER_WAIT
            )
            reset = MAX_SERVER_WAIT
        now = self._clock()
        ends_by = now + reset
        # Requests still in flight were not counted by the server yet.
        estimate = int(remaining) - self._in_flight
        if self._limit is None or ends_by > self._reset_at + NEW_WINDOW:
            self._remaining = estimate  # a new window began on the server
            self._reset_at = self._earliest_end = ends_by
        else:
            self._remaining = min(self._remaining, estimate)
            sent_in_window = elapsed is not None and now - elapsed >= self._opened
            if sent_in_window and ends_by > self._reset_at - self._window / 2:
                self._earliest_end = min(self._earliest_end, ends_by)
                self._reset_at = self._earliest_end
            else:
                self._reset_at = max(self._reset_at, ends_by)
        self._limit = int(limit)
        self._window = max(self._window, reset)
        if self._shared is not None:
            self._shared.learned(self._limit, self._window, remaining, reset)
        return True
