"""One run per job, on any machine: the job's identity and its lease in Redis.

With ``--redis-url``, ``onboard`` holds a ``JobLease`` for the whole run:
its name is a hash of the key's fingerprint, the input's content and the
shard, so a second run of that job anywhere (another directory, another
machine, a task queue's second delivery) is refused in one line naming the
holder, or waits with ``--wait``. Without Redis the journal's file lock is
the only guard, and it is local: the sweep then reports any duplicate it
finds (``_bulk/_existing.py``), and a run that created clients looks once
more, at its end, for a second client of each (``mark_duplicates``).

The run's limiter lives here too: with ``--redis-url`` one budget shared by
every process of the job (``--shard I/N``), through the same Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from .._bulk._existing import duplicate_error
from .._bulk._journal import Journal
from .._errors import AgencyAccessError, SessionError
from .._lease import JobLease, LeaseHeldError, LeaseLostError
from .._limiter import Limiter
from .._redis_limiter import RedisLimiter
from .._session import Session
from ._common import Stopped, UsageError

__all__ = ["held_lease", "job_identity", "mark_duplicates", "parse_shard", "run_limiter"]

_CHUNK = 1 << 20


def job_identity(path: Path, shard: tuple[int, int]) -> str:
    """What makes two runs one job (besides the key): the input's bytes, and the shard.

    The content, not the path: a copy of the export in another directory,
    or on another machine, is the same job.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return f"onboard {digest.hexdigest()} shard {shard[0]}/{shard[1]}"


@contextlib.asynccontextmanager
async def held_lease(
    redis_url: str | None,
    job: str,
    key_fingerprint: str,
    *,
    wait: bool,
    fallback: bool,
    command: str,
) -> AsyncIterator[bool]:
    """Hold the job's lease for the block (nothing without ``redis_url``); whether it is held.

    A lease held elsewhere is a one-line ``UsageError`` (exit 2) unless
    ``wait``; a Redis that cannot be reached is one too, unless ``fallback``,
    which runs without it and says so. A lease lost mid-run stops the run:
    ``Stopped`` (exit 1), after the block has written its results.
    """
    if not redis_url:
        yield False
        return
    lease = JobLease.from_url(redis_url, job, key_fingerprint=key_fingerprint)
    try:
        await lease.acquire(wait=wait)
    except (LeaseHeldError, SessionError) as error:
        await lease.release()  # closes its Redis client
        if isinstance(error, LeaseHeldError):
            raise UsageError(f"{error}; wait for it, or pass --wait") from None
        if not fallback:
            raise UsageError(f"{error}: check --redis-url, or pass --redis-fallback") from None
        print(
            f"{command}: note: {error}: running without the job's lease, so a run of this job "
            "elsewhere could duplicate rows (the sweep reports any duplicate it finds)",
            file=sys.stderr,
        )
        yield False
        return
    try:
        yield True
    except BaseException as exc:
        try:
            await lease.__aexit__(type(exc), exc, exc.__traceback__)
        except LeaseLostError as lost:
            raise Stopped(str(lost)) from None
        raise
    await lease.release()


async def mark_duplicates(session: Session, journal_path: Path) -> int:
    """After a run without a lease: mark failed each row whose identity two clients now carry.

    Another run of the job, elsewhere and at the same time, may have created
    the same rows: one pass over the account's clients, in list pages, goes
    into the journal's temporary table (not memory), and each journaled row
    whose idempotency key two or more clients carry becomes ``failed``,
    naming the clients, so the results file, the counts and the exit code
    say so. Returns how many rows.
    """
    journal = Journal(journal_path, None)
    try:
        try:
            async for page in session.clients.list(limit=100).pages():
                journal.note_listed(
                    (key, client.client_id)
                    for client in page.items
                    if (key := client.idempotency_key)
                )
        except AgencyAccessError as error:
            raise Stopped(
                f"the rows were sent, but the check for a second client of each failed ({error}): "
                "to check, run the same command with --fresh-journal (the sweep names any "
                "identity two clients carry; nothing is made twice)"
            ) from None
        marked = 0
        for entry, client_ids in list(journal.held_twice()):
            entry.state, entry.error = "failed", str(duplicate_error(client_ids))
            journal.save(entry)
            marked += 1
    finally:
        journal.close()
    if marked:
        print(
            f"onboard: {marked} rows now have two or more clients (another run of this job at "
            "the same time?): they are marked failed in the results file, naming the clients",
            file=sys.stderr,
        )
    return marked


def parse_shard(text: str | None) -> tuple[int, int]:
    """``I/N`` as (I, N), 1 <= I <= N; no shard is shard 1 of 1."""
    if text is None:
        return 1, 1
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise UsageError(f"--shard {text!r}: expected I/N with 1 <= I <= N, e.g. 2/4")
    return int(index), int(count)


def run_limiter(args: argparse.Namespace) -> Limiter | None:
    """A RedisLimiter when --redis-url is given: one budget shared by every process."""
    if not args.redis_url:
        return None
    try:
        return RedisLimiter.from_url(
            args.redis_url,
            max_concurrency=args.concurrency,
            rate=args.rate_limit,
            start_fallback=args.redis_fallback,
            processes=parse_shard(args.shard)[1],  # the fallback's share, if Redis is never reached
        )
    except SessionError as error:
        raise UsageError(str(error)) from None
    except ValueError:  # never the URL itself in a message: it may hold a password
        raise UsageError("--redis-url: not a Redis URL (redis://host:port/db)") from None
