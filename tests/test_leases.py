"""One run per job anywhere: the lease in a real redis-server, and duplicates reported without one.

The CLI is run as processes, in separate directories (as on separate
machines that share only Redis and the API).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import agencyaccess_async as aa
from agencyaccess_async._cli._jobs import job_identity
from agencyaccess_async.lowlevel import IDEMPOTENCY_METADATA_KEY

from .cli_helpers import (
    EXAMPLES,
    Emulator,
    assert_one_line_error,
    clean_rows,
    read_results,
    run_cli,
    running_emulator,
    start_cli,
    write_csv,
)
from .test_redis_limiter import RedisServer, redis_server  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.process]  # CLI processes, or a lease holder's (the main tier)


def _onboard_args(emulator: Emulator, table: Path, folder: Path, *more: str) -> list[str]:
    return ["onboard", str(table), "--services", str(EXAMPLES / "services.json"),
            "--base-url", emulator.base_url, "--out", str(folder / "results.csv"), *more]  # fmt: skip


def _in_two_places(
    emulator: Emulator, tmp_path: Path, rows: list[dict[str, str]], *more: str
) -> list[subprocess.Popen[str]]:
    """``onboard`` started at once in directories a and b, each on its own copy of ``rows``."""
    jobs = []
    for place in ("a", "b"):
        folder = tmp_path / place
        folder.mkdir()
        table = write_csv(folder / "clients.csv", rows)  # a copy: the same content
        jobs.append(start_cli(_onboard_args(emulator, table, folder, *more), emulator.env()))
    return jobs


def _clients_by_identity(emulator: Emulator) -> Counter[str]:
    """How many clients the emulator holds for each e-mail address (read through the API)."""

    async def listed() -> Counter[str]:
        async with aa.Session(emulator.key, base_url=emulator.base_url) as session:
            return Counter([client.email or "" async for client in session.clients.list()])

    return asyncio.run(listed())


@pytest.mark.redis
def test_two_runs_of_one_job_in_two_places_make_each_client_once(
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811
) -> None:
    """Started together, each in its own directory, with --wait: one runs, then the other finds all."""
    rows = clean_rows(30)
    with running_emulator("--latency-ms", "20") as emulator:
        jobs = _in_two_places(emulator, tmp_path, rows, "--redis-url", redis_server.url, "--wait")
        for job in jobs:
            _, stderr = job.communicate(timeout=120)
            assert job.returncode == 0, stderr
        held = _clients_by_identity(emulator)
    assert len(held) == 30 and set(held.values()) == {1}
    statuses = [
        Counter(row["status"] for row in read_results(tmp_path / place / "results.csv"))
        for place in ("a", "b")
    ]
    assert {"onboarded": 30} in statuses  # the first made them all; the second found them


@pytest.mark.redis
def test_a_second_run_is_refused_in_one_line_naming_the_holder(
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811
) -> None:
    """The lease held elsewhere (here, by this test's process): exit 2, host and pid, nothing sent."""
    table = write_csv(tmp_path / "clients.csv", clean_rows(3))
    with running_emulator() as emulator:
        fingerprint = aa.APIKey(emulator.key).fingerprint

        async def attempt() -> subprocess.CompletedProcess[str]:
            lease = aa.JobLease.from_url(
                redis_server.url, job_identity(table, (1, 1)), key_fingerprint=fingerprint
            )
            async with lease:
                args = _onboard_args(emulator, table, tmp_path, "--redis-url", redis_server.url)
                return await asyncio.to_thread(run_cli, *args, env=emulator.env())

        refused = asyncio.run(attempt())
        assert_one_line_error(refused, "this job is being run by", f"pid {os.getpid()}", "--wait")
        assert emulator.admin("counters")["records"]["clients"] == 0
        # Released: the same command now runs.
        done = run_cli(*_onboard_args(emulator, table, tmp_path, "--redis-url", redis_server.url),
                       env=emulator.env())  # fmt: skip
        assert done.returncode == 0, done.stderr


@pytest.mark.redis
async def test_a_dead_holders_lease_expires_and_a_live_ones_heartbeat_keeps_it(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    """ttl 1 s: held 2.5 s by a live holder it is still refused; its holder killed, it is taken."""
    live = aa.JobLease.from_url(redis_server.url, "job", ttl=1.0)
    async with live:
        await asyncio.sleep(2.5)  # past two ttls: only the heartbeat keeps it
        with pytest.raises(aa.LeaseHeldError) as held:
            async with aa.JobLease.from_url(redis_server.url, "job", ttl=1.0):
                pass
        assert held.value.holder is not None and f"pid {os.getpid()}" in held.value.holder
    script = (
        "import asyncio, os, signal, agencyaccess_async as aa\n"
        "async def main():\n"
        f"    await aa.JobLease.from_url({redis_server.url!r}, 'job', ttl=1.0).acquire()\n"
        "    print('held', flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=subprocess.PIPE
    )
    assert holder.stdout is not None
    assert await holder.stdout.readline() == b"held\n"
    await holder.wait()
    with pytest.raises(aa.LeaseHeldError):  # still held: it expires, it is not released
        async with aa.JobLease.from_url(redis_server.url, "job", ttl=1.0):
            pass
    successor = aa.JobLease.from_url(redis_server.url, "job", ttl=1.0)
    await asyncio.wait_for(successor.acquire(wait=True), 10)
    await successor.release()


@pytest.mark.redis
async def test_a_lease_taken_from_its_holder_stops_the_run(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    """Another token in the lease's key: the next heartbeat cancels the block, LeaseLostError."""
    import redis.asyncio as redis_asyncio

    lease = aa.JobLease.from_url(redis_server.url, "job", ttl=0.9)
    probe = redis_asyncio.Redis.from_url(redis_server.url)

    async def run() -> None:
        async with lease:
            await probe.set(lease.name, b"elsewhere pid 1 x", px=60_000)
            await asyncio.sleep(30)  # cancelled by the heartbeat long before

    try:
        with pytest.raises(aa.LeaseLostError):
            await run()
        assert await probe.get(lease.name) == b"elsewhere pid 1 x"  # never released: not ours
    finally:
        await probe.aclose()


def test_without_redis_duplicates_are_reported_never_found(tmp_path: Path) -> None:
    """Two runs of one job at once, in two directories, with no lease between them.

    With 200 ms answers both sweep an empty account, so both create the
    same rows. Every identity that ends with two clients is then marked
    failed as a duplicate in each run that made one, naming the clients;
    both exit 1, and no duplicated row is counted as onboarded.
    """
    rows = clean_rows(12)
    with running_emulator("--latency-ms", "200") as emulator:
        jobs = _in_two_places(emulator, tmp_path, rows, "--concurrency", "2")
        outputs = [job.communicate(timeout=120)[1] for job in jobs]
        held = _clients_by_identity(emulator)
    duplicated = {email for email, count in held.items() if count > 1}
    assert duplicated, "the two runs did not overlap: nothing was tested"
    for place, job, stderr in zip(("a", "b"), jobs, outputs, strict=True):
        assert job.returncode == 1, stderr
        assert "two or more clients" in stderr
        for row in read_results(tmp_path / place / "results.csv"):
            if row["email"] in duplicated:
                assert row["status"] == "failed", row
                assert "duplicate: clients" in row["error"]
            else:
                assert row["status"].startswith("onboarded"), row


def test_a_run_that_finds_two_clients_of_one_identity_calls_it_a_duplicate(
    tmp_path: Path,
) -> None:
    """The sweep at the start: a row the account holds twice is failed, not found."""
    rows = clean_rows(3)
    with running_emulator() as emulator:
        first = tmp_path / "first"
        first.mkdir()
        table = write_csv(first / "clients.csv", rows)
        assert run_cli(*_onboard_args(emulator, table, first), env=emulator.env()).returncode == 0

        async def copy_one() -> None:  # what a second run at the same moment would have made
            async with aa.Session(emulator.key, base_url=emulator.base_url) as session:
                (made,) = [c async for c in session.clients.list() if c.email == "c1@example.test"]
                metadata = {**made.metadata, IDEMPOTENCY_METADATA_KEY: made.idempotency_key}
                body = {"name": made.name, "email": made.email, "metadata": metadata}
                await session.post("/api/clients/create", body)

        asyncio.run(copy_one())
        again = tmp_path / "again"  # a fresh directory: no journal, so the sweep decides
        again.mkdir()
        table = write_csv(again / "clients.csv", rows)
        result = run_cli(*_onboard_args(emulator, table, again), env=emulator.env())
    assert result.returncode == 1, result.stderr
    by_email = {row["email"]: row for row in read_results(again / "results.csv")}
    assert by_email["c1@example.test"]["status"] == "failed"
    assert "duplicate: clients" in by_email["c1@example.test"]["error"]
    others = {by_email[e]["status"] for e in ("c0@example.test", "c2@example.test")}
    assert others == {"onboarded (found)"}
