"""One key's rate limit shared by every process, through Redis (the ``redis`` extra).

The API's rate limit belongs to the key, not to a process: web workers,
replicas and onboarding shards on one key must share one budget.
``RedisLimiter`` is the Session's ``Limiter`` composed with a ``_RedisBudget``
(its ``SharedBudget``), which moves the pacing into Redis:

- **Admission** is one Lua script, atomic in Redis: GCRA (the generic cell
  rate algorithm). One key per budget holds the theoretical arrival time of
  the next request; each admission reserves the next slot, ``1/rate``
  seconds after the last, and learns how long to wait for it. GCRA rather
  than a sliding window: one small value per budget instead of a log of
  requests, even spacing instead of bursts at window edges, and the wait is
  known in the same round trip. Time is Redis's own clock (``TIME``), so the
  processes' clocks need not agree. A slot the caller cannot wait for within
  its deadline is not reserved: the call fails at once with
  ``RateLimitError``.
- **The rate** is the configured one, or the one learnt from
  ``X-RateLimit-*`` headers (limit / window), published for the other
  processes to use.
- **A 429** with ``Retry-After`` received by one process sets a shared pause
  key with an expiry; every admission waits for it, within its deadline.
- **Concurrency** and the window mirror stay local (``Limiter``): they are per
  process by nature.
- **Failure**: a Redis call is bounded by ``redis_timeout`` and by the
  call's deadline. If Redis is unreachable or slow, the limiter falls back to
  local pacing with a warning (``on_redis_error="local"``, the default) or
  fails the call (``"fail"``), and tries Redis again ``retry_redis_after``
  seconds later: it recovers when Redis returns. The fallback paces at this
  process's share of the rate: the rate over the processes Redis last counted
  on the budget, or over ``processes`` when Redis was never reached (the
  CLI's ``--shard I/N`` says N). Its window mirror alone would let each
  process spend the whole window the server advertises.
- **Names**: budgets are named ``agencyaccess:<name>``, where ``name`` is
  yours or a hash of the base URL and of a hash of the API key. The key is
  never stored in Redis.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import ConnectError, SessionError
from ._hooks import logger
from ._limiter import NEW_WINDOW, Limiter

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisLimiter"]

T = TypeVar("T")

# KEYS: the next slot, the pause, the published rate, the live processes. ARGV:
# rate (0: use the published one), the longest wait the caller accepts, this
# process's id, how long its heartbeat lasts. Returns "wait count": the wait in
# seconds (Redis turns Lua numbers into integers, hence a string), negative when
# refused (nothing reserved); and how many processes pace on this budget now.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('PEXPIRE', KEYS[4], math.ceil(tonumber(ARGV[4]) * 1000))
local live = redis.call('ZCARD', KEYS[4])
local rate = tonumber(ARGV[1])
if rate > 0 then
  redis.call('SET', KEYS[3], ARGV[1], 'EX', 3600)
else
  rate = tonumber(redis.call('GET', KEYS[3]) or '0')
end
local start = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
if rate <= 0 then
  return tostring(start - now) .. ' ' .. live
end
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), start)
local wait = slot - now
if wait > tonumber(ARGV[2]) then
  return tostring(-wait) .. ' ' .. live
end
local next_slot = slot + 1 / rate
redis.call('SET', KEYS[1], tostring(next_slot), 'PX', math.ceil((next_slot - now) * 1000) + 1000)
return tostring(wait) .. ' ' .. live
"""
# KEYS: the pause. ARGV: seconds. Extends the shared pause, never shortens it.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""
_NEVER = 1e9  # "no deadline": the longest wait a caller without one accepts
_HEADROOM = 0.95
#: How long a process counts as live on a budget after its last admission.
_HEARTBEAT = 10.0
#: RedisLimiter's options that its budget takes (the rest are the local Limiter's).
_BUDGET_OPTIONS = frozenset(
    ("rate", "on_redis_error", "redis_timeout", "retry_redis_after", "clock", "start_fallback",
     "processes")
)  # fmt: skip


class _RedisBudget:
    """One budget in Redis: the ``SharedBudget`` a ``RedisLimiter`` paces through.

    It knows nothing of the limiter's slots or mirror: it reserves slots,
    shares pauses, learns the rate from what the limiter tells it, and
    falls back (and recovers) when Redis fails.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        rate: float | None,
        on_redis_error: str,
        redis_timeout: float,
        retry_redis_after: float,
        clock: Callable[[], float],
        start_fallback: bool,
        processes: int,
        notices: dict[str, float],
    ) -> None:
        self.redis = client
        self.rate = rate
        self.on_redis_error = on_redis_error
        self.redis_timeout = redis_timeout
        self.retry_redis_after = retry_redis_after
        self.start_fallback = start_fallback
        #: Shared with the siblings (one Redis client): when each kind of warning may
        #: be logged again, and "reached" once Redis answered (a later failure is an
        #: outage, not a misconfiguration).
        self.notices = notices
        self.keys: tuple[str, str, str, str] | None = None
        self.down_until = 0.0
        self._clock = clock
        # This process's id on the budget, and how many processes paced on it when
        # Redis last answered (until it does: as many as the caller said): a fallback
        # paces at the rate over that many.
        self._member = secrets.token_hex(8)
        self._live = processes
        self._pending: set[asyncio.Task[Any]] = set()
        # The server's window as the limiter's mirror last held it, for the learnt rate.
        self._limit = 0
        self._window = 0.0
        self._rolled_over = False
        self._last_remaining = 0.0
        self._last_reset = 0.0

    def name(self, name: str) -> None:
        """Name the budget: its four Redis keys, shared by every process that names it so."""
        base = f"agencyaccess:{name}"
        self.keys = (f"{base}:next", f"{base}:pause", f"{base}:rate", f"{base}:live")

    def shared(self) -> bool:
        """Whether Redis paces now: the budget is named and Redis is not in a failure's pause."""
        return self.keys is not None and not self._is_down()

    async def reserve(self, budget: float) -> float | None:
        """Reserve the budget's next slot (see ``SharedBudget.reserve``).

        The same script renews this process's heartbeat on the budget and
        counts the live processes, for a fair fallback.
        """
        assert self.keys is not None
        rate = self.rate or self._learnt_rate()
        longest = min(budget, _NEVER)
        call = self.redis.eval(
            _ADMIT, 4, *self.keys, str(rate or 0), str(longest), self._member, str(_HEARTBEAT)
        )
        try:
            answer: Any = await self._bounded(call, budget)  # type: ignore[arg-type]
        except Exception as error:  # redis-py, the socket, a timeout: all mean "down"
            self._down(error)
            return None
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        wait, _, live = text.partition(" ")
        self.notices["reached"] = 1.0
        self._live = max(1, int(live or "1"))
        return float(wait)

    def paused(self, seconds: float) -> None:
        """Publish the pause: a shared key with an expiry that every admission waits for."""
        if self.keys is not None and not self._is_down():
            task = asyncio.ensure_future(self._publish_pause(seconds))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def learned(self, limit: int, window: float, remaining: float, reset: float) -> None:
        """Keep the window for the learnt rate, and notice the first window rollover."""
        self._limit, self._window = limit, window
        if reset > self._last_reset + NEW_WINDOW:
            self._rolled_over = self._rolled_over or self._last_reset > 0
        self._last_remaining, self._last_reset = remaining, reset

    def fallback_interval(self) -> float:
        """While Redis is down: this process's share, the rate over the processes on the budget.

        Before the server's headers tell a rate (with none configured), the
        limiter's window mirror alone holds.
        """
        if not self._is_down():
            return 0.0
        rate = self.rate or self._learnt_rate()
        return self._live / rate if rate else 0.0

    async def aclose(self, owns_client: bool) -> None:
        """Wait for pause notices still being sent; close the client if it is ours."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if owns_client:
            await self.redis.aclose()

    async def _publish_pause(self, seconds: float) -> None:
        assert self.keys is not None
        try:
            call = self.redis.eval(_PAUSE, 1, self.keys[1], str(seconds))
            await self._bounded(call, self.redis_timeout)  # type: ignore[arg-type]
        except Exception as error:  # as in reserve
            self._down(error)

    async def _bounded(self, call: Coroutine[Any, Any, T], budget: float) -> T:
        """Await a Redis call for ``redis_timeout`` at most, and never past ``budget``."""
        task = asyncio.ensure_future(call)
        done, _ = await asyncio.wait((task,), timeout=max(min(self.redis_timeout, budget), 0.0))
        if not done:
            task.cancel()
            raise TimeoutError("Redis did not answer in time")
        return task.result()

    def _learnt_rate(self) -> float | None:
        """The rate the server's headers advertise, with 5% headroom; None until they do.

        The window's length is the largest ``X-RateLimit-Reset`` seen, which
        is short until a window has rolled over; until then the safe rate is
        what is left of this window over the time left in it. (A fixed window
        counts a steady stream's requests at its edges either side: pacing a
        little under the limit keeps the total inside it.)
        """
        limit, window = self._limit, self._window
        if not (limit and window):
            return None
        rate = limit / window
        if not self._rolled_over:
            rate = min(rate, max(self._last_remaining, 1.0) / max(self._last_reset, 0.05))
        return _HEADROOM * rate

    def _is_down(self) -> bool:
        if self.down_until and self._clock() >= self.down_until:
            self.down_until = 0.0  # try again
            self._notice("up", "shared rate limit: trying Redis again")
        return self.down_until > 0

    def _notice(self, kind: str, message: str, *args: object) -> None:
        """Log ``message`` once for this budget and its siblings (one Redis client, one line)."""
        now = self._clock()
        if self.notices.get(kind, 0.0) <= now:
            self.notices[kind] = now + self.retry_redis_after
            logger.warning(message, *args)

    def _down(self, error: BaseException) -> None:
        never_reached = "reached" not in self.notices
        if never_reached and self.on_redis_error == "local" and not self.start_fallback:
            raise SessionError(
                f"the shared rate limit cannot reach Redis ({type(error).__name__}): check the "
                "URL, port and password; nothing was sent (start_fallback=True, or the CLI's "
                "--redis-fallback, paces locally instead)"
            ) from None
        if self.on_redis_error == "fail":
            raise ConnectError(
                f"the shared rate limit is unreachable ({type(error).__name__}); nothing was sent",
                may_have_reached_server=False,
            ) from error
        if not self.down_until:
            self._notice(
                "down",
                "shared rate limit: Redis failed (%s); pacing locally, trying again in %ss",
                type(error).__name__,
                self.retry_redis_after,
            )
        self.down_until = self._clock() + self.retry_redis_after


class RedisLimiter(Limiter):
    """A ``Limiter`` whose pacing and 429 pauses are shared through Redis (see the module doc).

    The Session that uses it closes it (and its Redis connections) with itself.

    >>> limiter = RedisLimiter.from_url("redis://localhost:6379/0", rate=40)  # doctest: +SKIP
    >>> session = Session(limiter=limiter)  # doctest: +SKIP

    Args:
        client: a ``redis.asyncio.Redis`` (``from_url`` makes one).
        name: the budget's name, shared by every process that should share it;
            default: derived from the Session's base URL and API key.
        max_concurrency: requests in flight in this process.
        rate: requests per second for the whole budget; ``None`` learns it
            from the server's headers.
        owns_client: close ``client`` with the limiter (``from_url`` sets it).
        start_fallback: pace locally even when Redis cannot be reached at the
            very first call; by default that is a ``SessionError`` (a wrong
            URL, port or password), since pacing alone, unaware of the other
            processes, means 429s for all of them.
        on_redis_error: ``"local"`` to fall back to local pacing with a warning,
            ``"fail"`` to fail calls (a ``ConnectError``, which nothing sent).
        redis_timeout: the longest a single Redis call may take.
        retry_redis_after: seconds before Redis is tried again after a failure.
        processes: how many processes share the budget, for a fallback that
            starts before Redis ever answered (after that, Redis's own count).

    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        name: str | None = None,
        max_concurrency: int = 32,
        rate: float | None = None,
        on_redis_error: str = "local",
        redis_timeout: float = 0.5,
        retry_redis_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        owns_client: bool = False,
        start_fallback: bool = False,
        processes: int = 1,
    ) -> None:
        if on_redis_error not in ("local", "fail"):
            raise ValueError('on_redis_error must be "local" or "fail"')
        if processes < 1:
            raise ValueError("processes must be at least 1")
        super().__init__(max_concurrency, None, clock=clock, sleep=sleep)
        # What a sibling is made with: all but the name and the client's ownership.
        self._options: dict[str, Any] = {
            "max_concurrency": max_concurrency,
            "rate": rate,
            "on_redis_error": on_redis_error,
            "redis_timeout": redis_timeout,
            "retry_redis_after": retry_redis_after,
            "clock": clock,
            "sleep": sleep,
            "start_fallback": start_fallback,
            "processes": processes,
        }
        budget_options = {k: v for k, v in self._options.items() if k in _BUDGET_OPTIONS}
        self._budget = self._shared = _RedisBudget(client, notices={}, **budget_options)
        self._owns_client = owns_client
        if name is not None:
            self._budget.name(name)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisLimiter:
        """A RedisLimiter on the Redis at ``url`` (``redis://host:6379/0``); see the class doc."""
        try:
            import redis.asyncio as redis_asyncio
        except ImportError:
            raise SessionError(
                "RedisLimiter needs redis-py: pip install 'agencyaccess-async[redis]'"
            ) from None
        timeout = options.get("redis_timeout", 0.5)
        # One bounded pool for every key this limiter and its siblings pace: Redis
        # connections grow with the process's concurrency, never with its tenants.
        pool = redis_asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=options.get("max_concurrency", 32),
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        client = redis_asyncio.Redis.from_pool(pool)  # closing the client closes the pool
        return cls(client, owns_client=True, **options)

    def sibling(self) -> RedisLimiter:
        """A limiter for another API key on the same Redis client and connection pool.

        Its budget is named after that key (when it is attached); closing it
        never closes the client, which stays this limiter's.
        """
        sibling = RedisLimiter(self._budget.redis, **self._options)
        sibling._budget.notices = self._budget.notices
        return sibling

    def __repr__(self) -> str:  # never the URL: it may hold a password
        keys = self._budget.keys
        state = "local fallback" if self._budget.down_until else "shared"
        return f"<RedisLimiter {keys[0] if keys else '(unnamed)'} {state}>"

    @property
    def degraded(self) -> bool:
        """Whether the limiter is pacing locally because Redis failed."""
        return self._budget.down_until > 0

    def attach(self, base_url: str, key_fingerprint: str) -> None:
        """Name the budget after the Session's target, unless a name was given."""
        if self._budget.keys is None:
            digest = hashlib.sha256(f"{base_url}\n{key_fingerprint}".encode()).hexdigest()
            self._budget.name(digest[:16])

    async def aclose(self) -> None:
        """Wait for pause notices still being sent; close the Redis client if it is ours.

        Ours means made by ``from_url``: a client you pass in (shared by
        several limiters or your own code) is yours to close.
        """
        await self._budget.aclose(self._owns_client)
