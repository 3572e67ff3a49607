"""The onboard command, run as a real process against the emulator."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLI = [sys.executable, "-m", "agencyaccess_async"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    environment.update(env or {})
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=300, env=environment, cwd=cwd
    )


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def clean_rows(n: int) -> list[dict[str, str]]:
    return [
        {"external_id": f"ext-{i}", "name": f"Client {i}", "email": f"c{i}@example.test"}
        for i in range(n)
    ]


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


# ------------------------------------------------------------ embedded emulator


def test_happy_path_with_the_embedded_emulator(tmp_path: Path) -> None:
    """Without a key or URL it says it uses an embedded emulator, and every row gets an invite URL."""
    clients = write_csv(
        tmp_path / "clients.csv", [{**row, "notes": "keep me"} for row in clean_rows(25)]
    )
    out = tmp_path / "results.csv"
    result = run_cli(
        "onboard", str(clients), "--services", str(EXAMPLES / "services.json"), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "embedded emulator" in result.stderr
    assert "the invite URL of row 2, to send to that client: https://" in result.stderr
    rows = read_results(out)
    assert len(rows) == 25
    assert all(r["status"] == "onboarded" and r["invite_url"].startswith("https://") for r in rows)
    assert all(r["notes"] == "keep me" for r in rows)  # unknown columns are carried through
    assert list(rows[0])[-5:] == ["client_id", "link_id", "invite_url", "status", "error"]


def test_bad_rows_are_reported_with_row_numbers_and_not_sent(tmp_path: Path) -> None:
    """The example file's bad rows are named by row number in the summary and the results; exit 1."""
    out = tmp_path / "results.csv"
    result = run_cli(
        "onboard",
        str(EXAMPLES / "clients.csv"),
        "--services",
        str(EXAMPLES / "services.json"),
        "--out",
        str(out),
    )
    assert result.returncode == 1, result.stderr
    assert "6 invalid (rows 8, 15, 23, 31, 39, 46)" in result.stderr
    rows = read_results(out)
    assert len(rows) == 56
    invalid = {r["external_id"]: r["error"] for r in rows if r["status"] == "invalid"}
    assert invalid["crm-1007"] == "row 8: email: 'not-an-email' is not a valid e-mail address"
    assert "language: 'de'" in invalid["crm-1014"]
    assert all(not r["client_id"] for r in rows if r["status"] == "invalid")
    assert sum(r["status"] == "onboarded" for r in rows) == 50


@pytest.mark.parametrize(
    ("services", "needles"),
    [
        (
            '{"google": {"googleAds": {"accessLevel": "boss", "agencyAccountID": "a"}}}',
            ["google.googleAds.accessLevel", "boss"],
        ),
        (
            '{"google": {"googleAd": {"accessLevel": "admin", "agencyAccountID": "a"}}}',
            ["google.googleAd", "did you mean 'googleAds'"],
        ),
        ("{not json", ["not JSON"]),
        ("[]", ["requestedServices"]),
    ],
)
def test_bad_services_file_is_one_line_exit_2(
    tmp_path: Path, services: str, needles: list[str]
) -> None:
    """A bad services file is one line naming the path, exit 2, nothing sent, no results file."""
    path = tmp_path / "services.json"
    path.write_text(services)
    out = tmp_path / "results.csv"
    result = run_cli(
        "onboard", str(EXAMPLES / "clients.csv"), "--services", str(path), "--out", str(out)
    )
    assert_one_line_error(result, *needles)
    assert not out.exists()


def test_file_problems_are_one_line_exit_2(tmp_path: Path) -> None:
    """Missing file, wrong delimiter, non-text file, missing columns: one line each, exit 2."""
    services = str(EXAMPLES / "services.json")
    assert_one_line_error(
        run_cli("onboard", str(tmp_path / "nope.csv"), "--services", services), "no such file"
    )
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text((EXAMPLES / "clients.csv").read_text().replace(",", ";"))
    assert_one_line_error(
        run_cli("onboard", str(semicolons), "--services", services), "--delimiter ';'"
    )
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    assert_one_line_error(run_cli("onboard", str(binary), "--services", services), "not UTF-8")
    no_email = write_csv(tmp_path / "no_email.csv", [{"name": "A", "mail": "a@b.co"}])
    assert_one_line_error(
        run_cli("onboard", str(no_email), "--services", services), "no 'email' column"
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_one_line_error(run_cli("onboard", str(empty), "--services", services), "empty")
    assert_one_line_error(
        run_cli(
            "onboard", str(EXAMPLES / "clients.csv"), "--services", services, "--concurrency", "0"
        ),
        "--concurrency",
    )


def test_semicolon_files_work_with_the_delimiter_flag(tmp_path: Path) -> None:
    """--delimiter ';' reads and writes semicolon-separated files."""
    rows = clean_rows(3)
    path = tmp_path / "semi.csv"
    path.write_text("name;email\n" + "".join(f"{r['name']};{r['email']}\n" for r in rows))
    result = run_cli(
        "onboard", str(path), "--services", str(EXAMPLES / "services.json"), "--delimiter", ";"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "semi.results.csv").read_text().splitlines()[
        0
    ] == "name;email;client_id;link_id;invite_url;status;error"


# ------------------------------------------------------------ a standalone emulator


@attrs.frozen
class Emulator:
    base_url: str
    key: str
    process: Any

    def env(self, key: str | None = None) -> dict[str, str]:
        return {"AGENCYACCESS_API_KEY": key or self.key}

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return asyncio.run(_admin(self.base_url, path, body))


async def _admin(base_url: str, path: str, body: dict[str, Any] | None) -> Any:
    async with aiohttp.ClientSession() as http:
        method = http.post if body is not None else http.get
        async with method(f"{base_url}/_emulator/{path}", json=body) as answer:
            return (await answer.json())["data"]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    process = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--api-key", "cli-test-key"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    base_url = process.stdout.readline().strip().rsplit(" ", 1)[1]
    try:
        yield Emulator(base_url, "cli-test-key", process)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def test_retry_failed(emulator: Emulator, tmp_path: Path) -> None:
    """Rows failed by a key without links:create are reported again, then retried with --retry-failed."""
    clients = write_csv(tmp_path / "clients.csv", clean_rows(8))
    out = tmp_path / "results.csv"
    weak = emulator.admin("keys", {"capabilities": ["clients:create", "clients:retrieve"]})["key"]
    args = [
        "onboard",
        str(clients),
        "--services",
        str(EXAMPLES / "services.json"),
        "--out",
        str(out),
        "--base-url",
        emulator.base_url,
    ]
    first = run_cli(*args, env=emulator.env(weak))
    assert first.returncode == 1
    assert "8 failed" in first.stderr
    assert {r["status"] for r in read_results(out)} == {"failed"}
    assert "links:create" in read_results(out)[0]["error"]
    again = run_cli(*args, env=emulator.env())
    assert again.returncode == 1  # failed rows are reported, not retried, without the flag
    retried = run_cli(*args, "--retry-failed", env=emulator.env())
    assert retried.returncode == 0, retried.stderr
    assert {r["status"] for r in read_results(out)} == {"onboarded"}
    assert emulator.admin("counters")["records"] == {"clients": 8, "links": 8}


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    environment.update(env)
    return subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def _wait_for_clients(emulator: Emulator, at_least: int, process: subprocess.Popen[str]) -> None:
    import time

    deadline = time.monotonic() + 120
    while emulator.admin("counters")["records"]["clients"] < at_least:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_interrupted_run_completes_on_rerun_without_duplicates(
    emulator: Emulator, tmp_path: Path, how: str
) -> None:
    """Stop onboard mid-run (Ctrl-C, or SIGKILL with creates dropped after processing), re-run:
    exactly one client and one link per row, and every row in the results has an invite URL."""
    total = 5000
    clients = write_csv(tmp_path / "clients.csv", clean_rows(total))
    out = tmp_path / "results.csv"
    emulator.admin(
        "faults",
        {
            "latencyMs": 5,
            "latencyJitterMs": 10,
            **({"dropAfter": 0.05} if how == "sigkill" else {}),
        },
    )
    args = ["onboard", str(clients), "--services", str(EXAMPLES / "services.json"), "--out", str(out),
            "--base-url", emulator.base_url, "--concurrency", "32"]  # fmt: skip
    process = _start(args, emulator.env())
    _wait_for_clients(emulator, 1500, process)
    if how == "sigint":
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)  # stops within seconds
        assert process.returncode == 130, stderr
        assert "Traceback" not in stderr
        partial = read_results(out)  # written on the way out
        assert len(partial) == total
        assert 0 < sum(r["status"] == "onboarded" for r in partial) < total
    else:
        process.kill()
        process.communicate(timeout=10)
    rerun = run_cli(*args, env=emulator.env())
    assert rerun.returncode == 0, rerun.stderr
    records = emulator.admin("counters")["records"]
    assert records == {"clients": total, "links": total}
    rows = read_results(out)
    assert len(rows) == total
    assert all(r["status"] == "onboarded" and r["invite_url"].startswith("https://") for r in rows)
    assert len({r["client_id"] for r in rows}) == total


def test_wrong_key_or_unreachable_url_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    """A refused key or an unreachable URL is one line and exit 2, before any row is sent."""
    from .helpers import closed_port

    clients = write_csv(tmp_path / "clients.csv", clean_rows(3))
    args = [
        "onboard",
        str(clients),
        "--services",
        str(EXAMPLES / "services.json"),
        "--out",
        str(tmp_path / "r.csv"),
    ]
    refused = run_cli(*args, "--base-url", emulator.base_url, env=emulator.env("not-a-key"))
    assert_one_line_error(refused, "refused the API key (401)")
    port = closed_port()
    unreachable = run_cli(*args, "--base-url", f"http://127.0.0.1:{port}", env=emulator.env())
    assert_one_line_error(unreachable, f"cannot reach http://127.0.0.1:{port}")
    assert emulator.admin("counters")["records"]["clients"] == 0
    assert not (tmp_path / "r.csv").exists()
