"""Onboarding as arq jobs (asyncio-native, on Redis): ``arq arq_worker.WorkerSettings``.

Enqueue one job per agency, by its id, under a job id of its own, and read
each result (``python arq_worker.py agency-1 agency-2`` does this)::

    pool = await arq.create_pool(RedisSettings.from_dsn(REDIS_URL))
    await enqueue(pool, ["agency-1", "agency-2"])
    result = await Job("onboard:agency-1", pool).result(timeout=600)

The settings that make a killed worker's job run again promptly:

- arq marks a running job "in progress" for ``job_timeout`` + 10 s and has no
  heartbeat, so a job whose worker died (``kill -9``, a lost machine) runs
  again on another worker once that has passed. Keep ``job_timeout`` near
  your longest job (here ``$ONBOARD_JOB_TIMEOUT``, 300 s by default), not
  arq's generic default: a lower one redelivers sooner, one below a job's
  real length cancels it.
- ``_job_id`` makes a second enqueue of an agency whose job is queued,
  running, or kept as a result a no-op (``enqueue_job`` returns ``None``).
- The lease covers what ``_job_id`` does not (a redelivery while the first
  run is alive, another queue): the second run raises ``Retry`` and looks
  again once a dead holder's lease would have expired.
- ``log_results = False``: the result holds invite URLs, not for a log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any, ClassVar

from agency_jobs import LEASE_TTL, REDIS_URL, onboard_agency, open_session
from arq import Retry, create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job
from arq.worker import func

import agencyaccess_async as aa

JOB_TIMEOUT = float(os.environ.get("ONBOARD_JOB_TIMEOUT", "300"))


async def startup(ctx: dict[str, Any]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    ctx["session"] = open_session()


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["session"].aclose()


async def onboard(ctx: dict[str, Any], agency_id: str) -> dict[str, Any]:
    """The job: one agency, by id (never its key: arq logs the arguments)."""
    try:
        return await onboard_agency(ctx["session"], agency_id)
    except aa.LeaseHeldError:
        raise Retry(defer=LEASE_TTL) from None  # another run has it; look again later


async def enqueue(pool: ArqRedis, agency_ids: list[str]) -> None:
    """One job per agency, each under its own job id (a second enqueue is a no-op)."""
    for agency_id in agency_ids:
        await pool.enqueue_job("onboard", agency_id, _job_id=f"onboard:{agency_id}")


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        func(onboard, name="onboard", timeout=JOB_TIMEOUT, max_tries=10)
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    job_timeout = JOB_TIMEOUT
    keep_result = 7 * 24 * 3600  # the platform reads the invite URLs from the result
    log_results = False
    max_jobs = 10  # agencies at once in one worker


async def main(agency_ids: list[str]) -> None:
    """Enqueue each agency once and print each job's result as a JSON line."""
    pool = await create_pool(WorkerSettings.redis_settings)
    try:
        await enqueue(pool, agency_ids)
        for agency_id in dict.fromkeys(agency_ids):
            result = await Job(f"onboard:{agency_id}", pool).result(timeout=JOB_TIMEOUT * 10)
            print(json.dumps(result), flush=True)
    finally:
        await pool.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
