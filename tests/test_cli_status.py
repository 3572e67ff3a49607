"""``status`` as a process against the emulator: counts for a known mix, its request budget."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from agencyaccess_async import Session
from tests.cli_helpers import (
    EXAMPLES,
    Emulator,
    assert_one_line_error,
    onboarded,
    read_results,
    run_cli,
    start_cli,
)
from tests.helpers import closed_port

pytestmark = pytest.mark.process


def grant_all(emulator: Emulator, link_id: str, status: str = "granted") -> None:
    services = json.loads((EXAMPLES / "services.json").read_text())
    for platform, wanted in services.items():
        for service in wanted:
            emulator.admin(
                "links/grant",
                {"linkID": link_id, "platform": platform, "service": service, "status": status},
            )


def grant_one(emulator: Emulator, link_id: str, status: str = "granted") -> None:
    services = json.loads((EXAMPLES / "services.json").read_text())
    platform = next(iter(services))
    service = next(iter(services[platform]))
    body = {"linkID": link_id, "platform": platform, "service": service, "status": status}
    emulator.admin("links/grant", body)


def answer_a_mix(
    emulator: Emulator, links: list[str], granted: int, partial: int, rejected: int
) -> None:
    """The first links granted in full, the next partly, the next with a refusal."""
    for link_id in links[:granted]:
        grant_all(emulator, link_id)
    for link_id in links[granted : granted + partial]:
        grant_one(emulator, link_id)
    for link_id in links[granted + partial : granted + partial + rejected]:
        grant_one(emulator, link_id, "rejected")


def status(emulator: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("status", *args, "--base-url", emulator.base_url, env=emulator.env())


def test_status_counts_a_known_mix_in_few_requests(emulator: Emulator, tmp_path: Path) -> None:
    """300 links: 40 granted, 30 partial, 20 rejected, the rest pending; <= 20 requests."""
    results = onboarded(emulator, tmp_path, 300)
    answer_a_mix(emulator, [row["link_id"] for row in read_results(results)], 40, 30, 20)
    before = emulator.admin("counters")["total"]
    result = status(emulator, str(results), "--json")
    used = emulator.admin("counters")["total"] - before
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["granted"], summary["partial"], summary["rejected"], summary["pending"]) == (
        40, 30, 20, 210,
    )  # fmt: skip
    assert summary["requests"] == used <= 20
    rows = read_results(tmp_path / "clients.status.csv")
    assert [r["link_status"] for r in rows[:1]] == ["granted"]
    assert rows[70]["link_status"] == "rejected" and rows[70]["services_rejected"]
    assert rows[0]["name"] == "Client 0" and rows[0]["checked_at"]
    # A status file is its own input: checked again, rewritten in place.
    again = status(emulator, str(tmp_path / "clients.status.csv"))
    assert again.returncode == 0, again.stderr
    assert len(read_results(tmp_path / "clients.status.csv")) == 300


def test_status_reports_deleted_links_and_needs_a_key(emulator: Emulator, tmp_path: Path) -> None:
    results = onboarded(emulator, tmp_path, 3)
    first = read_results(results)[0]

    async def delete() -> None:
        async with Session(emulator.key, base_url=emulator.base_url) as session:
            await session.links.delete(first["link_id"])

    asyncio.run(delete())
    result = status(emulator, str(results))
    assert result.returncode == 0, result.stderr
    assert read_results(tmp_path / "clients.status.csv")[0]["link_status"] == "not found"
    assert "1 not found" in result.stderr
    no_key = run_cli("status", str(results), "--base-url", emulator.base_url)
    assert_one_line_error(no_key, "AGENCYACCESS_API_KEY")
    assert_one_line_error(status(emulator, str(EXAMPLES / "services.json")), "link_id")
    wrong_key = run_cli("status", str(results), "--base-url", emulator.base_url,
                        env=emulator.env("not-a-key"))  # fmt: skip
    assert_one_line_error(wrong_key, "refused the API key (401)")
    port = closed_port()
    unreachable = run_cli("status", str(results), "--base-url", f"http://127.0.0.1:{port}",
                          env=emulator.env())  # fmt: skip
    lines = unreachable.stderr.strip().splitlines()  # a note that --base-url wins, the error
    assert unreachable.returncode == 2 and len(lines) == 2, unreachable.stderr
    assert "is not where clients.results.csv was onboarded" in lines[0]
    assert f"cannot reach http://127.0.0.1:{port}" in lines[1]


def test_watch_prints_changes_until_every_link_is_granted(
    emulator: Emulator, tmp_path: Path
) -> None:
    results = onboarded(emulator, tmp_path, 2)
    links = [row["link_id"] for row in read_results(results)]
    watcher = start_cli(
        ["status", str(results), "--watch", "0.2", "--base-url", emulator.base_url],
        emulator.env(),
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "clients.status.csv").exists():  # the first check is written
        assert watcher.poll() is None and time.monotonic() < deadline, watcher.communicate()
        time.sleep(0.05)
    for link_id in links:
        grant_all(emulator, link_id)
    try:
        _, stderr = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.send_signal(signal.SIGINT)
            watcher.communicate(timeout=30)
    assert watcher.returncode == 0, stderr
    assert "row 2 (Client 0 (c0@example.test)): " in stderr  # a client, by name and e-mail
    assert "-> granted (Google Ads: granted;" in stderr  # and what it granted, in words
    assert "2 granted" in stderr.splitlines()[-1]
    lines = stderr.splitlines()
    summaries = [n for n, line in enumerate(lines) if line.startswith("status: 2 links")]
    # Only changes: after the first check, a summary follows a change, never a quiet round.
    assert all(lines[n - 1].startswith("status: row ") for n in summaries[1:]), stderr
