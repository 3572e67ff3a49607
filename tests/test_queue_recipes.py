"""The task-queue recipes of ``examples/queues``, run as a platform would: real redis-server,
an emulator process, three worker processes in directories of their own, one killed with
``kill -9`` mid-job.

30 agencies (a key each) x 20 rows, ten agencies enqueued twice. The test checks, with each
agency's own key: 20 clients and 20 links each, no e-mail twice, every row's invite URL in
the job's result, and no key in any worker's log or in the results.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from agencyaccess_async import Session
from tests.cli_helpers import EXAMPLES, Emulator, running_emulator

from .test_redis_limiter import RedisServer, redis_server  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.process, pytest.mark.redis, pytest.mark.slow]

QUEUES = EXAMPLES / "queues"
AGENCIES, ROWS, WORKERS = 30, 20, 3
#: Requests a second per key: each agency is paced by the local limiter of the one
#: worker that holds its lease, so no key needs a budget shared through Redis.
RATE_LIMIT = 50
#: Short enough for a test to see the redelivery: a killed job runs again after
#: arq's job_timeout + 10 s, or Celery's visibility timeout (+ up to 10 s).
SETTINGS = {"ONBOARD_JOB_TIMEOUT": "10", "ONBOARD_VISIBILITY_TIMEOUT": "10",
            "ONBOARD_LEASE_TTL": "10"}  # fmt: skip
RECIPES = {
    "arq": (["-m", "arq", "arq_worker.WorkerSettings"], "arq_worker.py", " → ", " ← "),
    "celery": (
        ["-m", "celery", "-A", "celery_worker", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        "celery_worker.py", "received", "succeeded",
    ),
}  # fmt: skip


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[Emulator, dict[str, str]]]:
    """An emulator (20 ms a request, 50 a second per key) with 30 agencies' keys; rows and keys as files."""
    with running_emulator("--latency-ms", "20", "--rate-limit", str(RATE_LIMIT)) as emulator:
        keys = {
            f"agency-{n}": emulator.admin("keys", {"agency": f"agency-{n}"})["key"]
            for n in range(AGENCIES)
        }
        (tmp_path / "keys.json").write_text(json.dumps(keys))
        rows = tmp_path / "rows"
        rows.mkdir()
        for agency in keys:
            table = [{"external_id": f"{agency}-{r}", "name": f"Client {r}",
                      "email": f"c{r}@{agency}.test"} for r in range(ROWS)]  # fmt: skip
            (rows / f"{agency}.json").write_text(json.dumps(table))
        yield emulator, keys


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_a_worker_killed_mid_job_leaves_no_duplicate_no_missing_row_and_no_key(
    recipe: str,
    platform: tuple[Emulator, dict[str, str]],
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    emulator, keys = platform
    command, client_script, started, ended = RECIPES[recipe]
    env = {
        **os.environ, **SETTINGS, "REDIS_URL": redis_server.url,
        "AGENCYACCESS_BASE_URL": emulator.base_url, "AGENCY_KEYS_FILE": str(tmp_path / "keys.json"),
        "AGENCY_ROWS_DIR": str(tmp_path / "rows"),
        "AGENCY_SERVICES_FILE": str(EXAMPLES / "services.json"),
        "PYTHONPATH": os.pathsep.join([str(QUEUES), os.environ.get("PYTHONPATH", "")]),
    }  # fmt: skip
    env.pop("AGENCYACCESS_API_KEY", None)
    logs = [tmp_path / f"worker{n}" / "worker.log" for n in range(WORKERS)]
    workers = []
    for log in logs:
        log.parent.mkdir()
        with log.open("w") as handle:  # each worker in a directory (a journal) of its own
            workers.append(subprocess.Popen([sys.executable, *command], cwd=log.parent,
                                            env=env, stdout=handle, stderr=subprocess.STDOUT))  # fmt: skip
    agencies = list(keys)
    said = tmp_path / "results.jsonl", tmp_path / "client.log"
    with said[0].open("w") as out_file, said[1].open("w") as err_file:
        client = subprocess.Popen(
            [sys.executable, str(QUEUES / client_script), *agencies, *agencies[:10]],
            env=env, stdout=out_file, stderr=err_file,
        )  # fmt: skip
    try:
        killed = _kill_one_mid_job(workers, logs, started, ended)
        client.wait(timeout=240)
    finally:
        for process in [client, *workers]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [client, *workers]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    out, err = (path.read_text(errors="replace") for path in said)
    assert client.returncode == 0, err[-3000:]
    results = {r["agency"]: r for r in map(json.loads, out.splitlines())}
    assert sorted(results) == sorted(agencies)
    assert all(len(r["invite_urls"]) == ROWS and all(r["invite_urls"].values())
               for r in results.values())  # fmt: skip

    held = asyncio.run(_what_the_server_holds(emulator.base_url, keys))
    assert held == {agency: (ROWS, ROWS, ROWS) for agency in agencies}  # clients, e-mails, links
    texts = [log.read_text(errors="replace") for log in logs] + [out, err]
    assert [k for k in keys.values() if any(k in text for text in texts)] == []
    assert killed.count(started) > killed.count(ended)  # it died with a job unfinished
    counters = emulator.admin("counters")
    too_many = sum(by_status.get("429", 0) for by_status in counters["requests"].values())
    assert too_many <= 0.01 * counters["total"], (too_many, counters["total"])
    print(f"{recipe}: killed with {killed.count(started) - killed.count(ended)} job(s) running; "
          f"{counters['total']} requests, {too_many} answered 429")  # fmt: skip


def _kill_one_mid_job(
    workers: list[subprocess.Popen[bytes]], logs: list[Path], started: str, ended: str
) -> str:
    """``kill -9`` the first worker seen with a job started and not ended; its log then."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for worker, log in zip(workers, logs, strict=True):
            text = log.read_text(errors="replace")
            if text.count(started) > text.count(ended):
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                return text
        time.sleep(0.05)
    raise AssertionError("no worker started a job: " + logs[0].read_text()[-2000:])


async def _what_the_server_holds(
    base_url: str, keys: dict[str, str]
) -> dict[str, tuple[int, int, int]]:
    """For each agency, with its own key: clients, distinct e-mails, links (one each)."""
    held = {}
    for agency, key in keys.items():
        async with Session(key, base_url=base_url) as session:
            clients = await session.clients.list(limit=100).collect()
            links = await session.links.list(limit=100).collect()
        per_client = Counter(link.client_id for link in links)
        assert set(per_client.values()) <= {1}, (agency, per_client)
        held[agency] = (len(clients), len({c.email for c in clients}), len(links))
    return held
