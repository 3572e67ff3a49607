"""One run of a job at a time, on any machine: a lease in Redis (the ``redis`` extra).

A journal's file lock keeps two runs on one machine apart; two machines, or
two workers of a task queue with separate disks, each have a journal of
their own and would both create every row. A ``JobLease`` is the same
guard where the runs share only Redis:

- it is redis-py's own ``Lock`` (a key set with ``NX`` and an expiry,
  released and extended by atomic scripts), not a lock of ours;
- its name is a hash of the API key's fingerprint and of the job's identity
  (for the CLI: the input's content and shard), so neither shows in Redis;
- its token names the holder (host and pid, plus a random part), so a
  second run is refused in one line that says who holds it;
- a heartbeat extends it (``reacquire``) every third of its ``ttl`` (30 s
  by default): a holder that dies, however it dies, lets it expire within
  ``ttl``, and the job's retry then resumes through the sweep;
- a holder that cannot extend it for two thirds of its ``ttl`` (Redis
  unreachable), or finds it taken, is cancelled at once, before the lease
  can pass to another run, and the ``async with`` block raises
  ``LeaseLostError``.

>>> lease = JobLease.from_url("redis://localhost:6379/0", job="agency-42 crm.csv")  # doctest: +SKIP
>>> async with lease:  # doctest: +SKIP
...     summary = await session.bulk.onboard(rows, services=services).run()
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._errors import AgencyAccessError, SessionError
from ._hooks import logger

if TYPE_CHECKING:
    import redis.asyncio
    from redis.asyncio.lock import Lock

__all__ = ["DEFAULT_LEASE_TTL", "JobLease", "LeaseHeldError", "LeaseLostError"]

#: How long a lease outlives its holder's last heartbeat.
DEFAULT_LEASE_TTL = 30.0
_POLL = 0.5  # how often a waiting run asks again


class LeaseHeldError(AgencyAccessError):
    """Another run holds this job's lease; ``holder`` says which (``host pid N``), when known."""

    def __init__(self, message: str, *, holder: str | None) -> None:
        super().__init__(message)
        self.holder = holder


class LeaseLostError(AgencyAccessError):
    """This run lost its job's lease (Redis unreachable past the lease's ``ttl``, or taken)."""


class JobLease:
    """A lease on one job in Redis: hold it for the whole run (see the module doc).

    Args:
        client: a ``redis.asyncio.Redis`` (``from_url`` makes one).
        job: what identifies the job besides the key (an input's hash, a
            task's id); never stored as given, only hashed.
        key_fingerprint: ``Session.key_fingerprint``: the same job of two
            agencies is two jobs.
        ttl: seconds the lease outlives its holder's last heartbeat.
        owns_client: close ``client`` with the lease (``from_url`` sets it).

    ``name`` is the lease's Redis key; ``holder`` names this process as a
    refused run sees it; ``lost`` turns true when the heartbeat failed.
    """

    name: str
    ttl: float
    holder: str
    lost: bool

    def __init__(
        self,
        client: redis.asyncio.Redis,
        job: str,
        *,
        key_fingerprint: str = "",
        ttl: float = DEFAULT_LEASE_TTL,
        owns_client: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        digest = hashlib.sha256(f"{key_fingerprint}\n{job}".encode()).hexdigest()[:24]
        self.name = f"agencyaccess:lease:{digest}"
        self.ttl = ttl
        self.holder = f"{socket.gethostname()} pid {os.getpid()}"
        self._redis = client
        self._owns_client = owns_client
        self._clock = clock
        self._lock: Lock | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._owner: asyncio.Task[Any] | None = None
        self.lost = False

    @classmethod
    def from_url(cls, url: str, job: str, **options: Any) -> JobLease:
        """A lease on the Redis at ``url``; closed with the lease. See the class doc."""
        try:
            import redis.asyncio as redis_asyncio
        except ImportError:
            raise SessionError(
                "JobLease needs redis-py: pip install 'agencyaccess-async[redis]'"
            ) from None
        client = redis_asyncio.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return cls(client, job, owns_client=True, **options)

    def __repr__(self) -> str:  # never the URL: it may hold a password
        state = "held" if self._lock is not None else "not held"
        return f"<JobLease {self.name} {state}>"

    async def acquire(self, *, wait: bool = False) -> None:
        """Take the lease, or raise ``LeaseHeldError`` naming its holder; ``wait`` waits for it.

        A Redis that cannot be reached is a ``SessionError`` (nothing was sent).
        """
        from redis.asyncio.lock import Lock

        token = f"{self.holder} {secrets.token_hex(6)}"
        lock = Lock(self._redis, self.name, timeout=self.ttl, blocking=False, thread_local=False)
        announced = False
        while True:
            try:
                if await lock.acquire(token=token):
                    break
                holder = await self._redis.get(self.name)
            except Exception as error:  # redis-py, the socket: the lease cannot be had
                raise SessionError(
                    f"cannot reach Redis for the job's lease ({type(error).__name__}); "
                    "nothing was sent"
                ) from None
            shown = _holder_of(holder)
            if not wait:
                raise LeaseHeldError(
                    f"this job is being run by {shown or 'another process'} (a lease in Redis, "
                    f"which expires within {self.ttl:g}s of that run's end)",
                    holder=shown,
                )
            if not announced:
                logger.warning("waiting for the job's lease, held by %s", shown or "another run")
                announced = True
            await asyncio.sleep(_POLL)
        self._lock = lock
        self._owner = asyncio.current_task()
        self._heartbeat = asyncio.ensure_future(self._beat())

    async def release(self) -> None:
        """Stop the heartbeat and give the lease back (if it is still ours); close our client."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.wait([self._heartbeat])
            self._heartbeat = None
        lock, self._lock = self._lock, None
        try:
            if lock is not None and not self.lost:
                await lock.release()
        except Exception as error:  # expired meanwhile, or Redis gone: it expires by itself
            logger.warning("could not release the job's lease (%s)", type(error).__name__)
        finally:
            if self._owns_client:
                await self._redis.aclose()

    async def _beat(self) -> None:
        """Extend the lease every third of its ttl; lose it (and stop the run) when that fails."""
        assert self._lock is not None
        renewed = self._clock()
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self._lock.reacquire()
                renewed = self._clock()
                continue
            except Exception as error:
                from redis.exceptions import LockError

                taken = isinstance(error, LockError)
                if not taken and self._clock() - renewed < self.ttl * 2 / 3:
                    logger.warning(
                        "could not extend the job's lease (%s); trying again",
                        type(error).__name__,
                    )
                    continue
            self.lost = True
            logger.error("lost the job's lease: stopping this run before another takes it up")
            if self._owner is not None:
                self._owner.cancel()
            return

    async def __aenter__(self) -> JobLease:
        try:
            await self.acquire()
        except BaseException:
            await self.release()  # closes a client of ours: nothing is left open
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()
        if self.lost and isinstance(exc, asyncio.CancelledError):
            owner = self._owner
            if owner is not None and hasattr(owner, "uncancel"):
                owner.uncancel()  # the cancellation was ours, not the caller's
            raise LeaseLostError(
                "lost the job's lease (Redis unreachable for too long, or the lease expired): "
                "this run stopped; run it again to resume"
            ) from None


def _holder_of(token: bytes | str | None) -> str | None:
    """``host pid N`` from a lease's token (the random part left out)."""
    if token is None:
        return None
    text = token.decode("utf-8", "replace") if isinstance(token, bytes) else token
    return text.rsplit(" ", 1)[0] or None
