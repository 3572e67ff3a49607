"""The onboard command, run as a real process against the emulator."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from .cli_helpers import (
    EXAMPLES,
    Emulator,
    assert_one_line_error,
    clean_rows,
    read_results,
    run_cli,
    start_cli,
    wait_for_clients,
    write_csv,
)

pytestmark = pytest.mark.process

# ------------------------------------------------------------ embedded emulator


def test_happy_path_with_the_embedded_emulator(tmp_path: Path) -> None:
    """Without a key or URL it says it uses an embedded emulator, and every row gets an invite URL."""
    clients = write_csv(
        tmp_path / "clients.csv", [{**row, "notes": "keep me"} for row in clean_rows(25)]
    )
    out = tmp_path / "results.csv"
    result = run_cli(
        "onboard", str(clients), "--services", str(EXAMPLES / "services.json"), "--out", str(out),
        "--emulator",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "embedded emulator" in result.stderr
    assert "the invite URL of row 2, to send to that client: http://127.0.0.1:" in result.stderr
    assert "stop working when this command ends" in result.stderr
    rows = read_results(out)
    assert len(rows) == 25
    assert all(r["status"] == "onboarded" and "/invite/" in r["invite_url"] for r in rows)
    assert all(r["notes"] == "keep me" for r in rows)  # unknown columns are carried through
    assert list(rows[0])[-6:-1] == ["client_id", "link_id", "invite_url", "status", "error"]
    assert {r["target"] for r in rows} == {  # an embedded run's results say so on every row
        "embedded emulator: a rehearsal; these invite links do not work"
    }


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
        "--emulator",
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
    """With --strict-services a bad services file is one line naming the path, exit 2, nothing sent."""
    path = tmp_path / "services.json"
    path.write_text(services)
    out = tmp_path / "results.csv"
    result = run_cli(
        "onboard", str(EXAMPLES / "clients.csv"), "--services", str(path), "--out", str(out),
        "--strict-services",
    )  # fmt: skip
    assert_one_line_error(result, *needles)
    assert not out.exists()


def test_services_the_catalog_does_not_know_are_a_warning_and_sent(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Without --strict-services an unknown service is one warning line; the API then decides."""
    path = tmp_path / "services.json"
    path.write_text(
        '{"google": {"googleAd": {"accessLevel": "admin", "agencyAccountID": "acct_google_1"}}}'
    )
    clients = write_csv(tmp_path / "clients.csv", clean_rows(3))
    out = tmp_path / "results.csv"
    result = run_cli(
        "onboard", str(clients), "--services", str(path), "--out", str(out),
        "--base-url", emulator.base_url, env=emulator.env(),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "did you mean 'googleAds'" in warnings[0]
    rows = read_results(out)
    assert {r["status"] for r in rows} == {"failed"}
    assert "Requested service is invalid" in rows[0]["error"]  # the API's own refusal


def test_file_problems_are_one_line_exit_2(tmp_path: Path) -> None:
    """Missing file, wrong delimiter, non-text file, missing columns: one line each, exit 2."""
    services = str(EXAMPLES / "services.json")
    assert_one_line_error(
        run_cli("onboard", str(tmp_path / "nope.csv"), "--services", services), "no such file"
    )
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text((EXAMPLES / "clients.csv").read_text().replace(",", ";"))
    assert_one_line_error(  # a delimiter given wrong: the hint names the right one
        run_cli("onboard", str(semicolons), "--services", services, "--delimiter", ","),
        "--delimiter ';'",
    )
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    assert_one_line_error(run_cli("onboard", str(binary), "--services", services), "not text")
    no_email = write_csv(tmp_path / "no_email.csv", [{"name": "A", "contact": "a@b.co"}])
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
    """--delimiter ';' reads and writes semicolon-separated files (also sniffed without it)."""
    rows = clean_rows(3)
    path = tmp_path / "semi.csv"
    path.write_text("name;email\n" + "".join(f"{r['name']};{r['email']}\n" for r in rows))
    result = run_cli(
        "onboard", str(path), "--services", str(EXAMPLES / "services.json"), "--delimiter", ";",
        "--emulator",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "semi.results.csv").read_text().splitlines()[
        0
    ] == "name;email;client_name;client_id;link_id;invite_url;status;error;target"


# ------------------------------------------------------------ a standalone emulator


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
    refused = run_cli(*args, env=emulator.env())
    assert refused.returncode == 2  # another key: the journal is not taken as proof
    assert "--key-rotated" in refused.stderr
    again = run_cli(*args, "--key-rotated", env=emulator.env())
    assert again.returncode == 1  # failed rows are reported, not retried, without the flag
    retried = run_cli(*args, "--retry-failed", env=emulator.env())
    assert retried.returncode == 0, retried.stderr
    assert {r["status"] for r in read_results(out)} == {"onboarded"}
    assert emulator.admin("counters")["records"] == {"clients": 8, "links": 8}


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
    process = start_cli(args, emulator.env())
    wait_for_clients(emulator, 1500, process)
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
    assert all(
        r["status"] == "onboarded" and r["invite_url"].startswith(emulator.base_url) for r in rows
    )
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


async def test_the_access_check_outlasts_dropped_connections(tmp_path: Path) -> None:
    """A server that drops the first three checks was reached: the fourth answer decides.

    Here it refuses the key, so the run ends on that one line, not on "cannot reach".
    """
    from aiohttp import web

    from .helpers import serve_app

    seen: list[str] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if len(seen) <= 3 and request.transport is not None:
            request.transport.close()  # processed, never answered
            return web.Response()
        return web.json_response({"error": True, "msg": "Invalid API key."}, status=401)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    clients = write_csv(tmp_path / "clients.csv", clean_rows(3))
    out = tmp_path / "r.csv"
    args = ["onboard", str(clients), "--services", str(EXAMPLES / "services.json"),
            "--out", str(out)]  # fmt: skip
    async with serve_app(app) as base_url:
        env = {"AGENCYACCESS_API_KEY": "test-key"}
        result = await asyncio.to_thread(run_cli, *args, "--base-url", base_url, env=env)
    assert_one_line_error(result, "refused the API key (401)")
    assert seen == ["/api/clients/list"] * 4
    assert not out.exists()
