"""Operator mistakes, refused before anything is sent: one line, exit 2, nothing overwritten.

Each runs ``onboard`` as a process. The embedded emulator is never started
for a refused run (a refusal comes first), and the input file is unchanged.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_helpers import EXAMPLES, Emulator, assert_one_line_error, clean_rows, run_cli, write_csv

pytestmark = pytest.mark.process

SERVICES = str(EXAMPLES / "services.json")


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "clients.csv", clean_rows(3))


def _onboard(table: Path, *extra: str) -> tuple[str, ...]:
    return ("onboard", str(table), "--services", SERVICES, *extra)


def test_out_equal_to_the_input_is_refused_and_the_input_kept(table: Path, tmp_path: Path) -> None:
    before = table.read_bytes()
    link = tmp_path / "link-to-input.csv"
    link.symlink_to(table)
    for out in (str(table), str(tmp_path / "." / "clients.csv"), str(link)):
        result = run_cli(*_onboard(table, "--emulator", "--out", out))
        assert_one_line_error(result, "--out")
        assert "input" in result.stderr or "symbolic link" in result.stderr
    assert table.read_bytes() == before
    assert_one_line_error(
        run_cli(*_onboard(table, "--emulator", "--journal", str(table))), "is the input file"
    )
    out = tmp_path / "results.csv"
    assert_one_line_error(
        run_cli(*_onboard(table, "--emulator", "--out", str(out), "--journal", str(out))),
        "results file",
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_out_naming_a_fifo_a_device_or_a_symlink_is_refused(table: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = tmp_path / "elsewhere.csv"
    target.write_text("keep me\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    for out, needle in ((fifo, "not a regular file"), (Path("/dev/null"), "not a regular file"),
                        (link, "symbolic link"), (tmp_path, "directory")):  # fmt: skip
        assert_one_line_error(run_cli(*_onboard(table, "--emulator", "--out", str(out))), needle)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert target.read_text() == "keep me\n" and link.is_symlink()


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "-inf"])
def test_a_rate_limit_that_is_no_positive_number_is_refused(table: Path, value: str) -> None:
    assert_one_line_error(run_cli(*_onboard(table, f"--rate-limit={value}")), "--rate-limit")


@pytest.mark.parametrize(
    ("base_url", "needle"),
    [
        ("http://[::1", "not a valid URL"),
        ("https://api.example/?tenant=1", "query or a fragment"),
        ("https://api.example/#top", "query or a fragment"),
        ("ftp://api.example", "http(s) URL"),
        ("https://user:hunter22@api.example/?x=1", "user:***@"),
    ],
)
def test_a_base_url_requests_cannot_be_built_on_is_refused(
    table: Path, base_url: str, needle: str
) -> None:
    result = run_cli(*_onboard(table, "--base-url", base_url), env={"AGENCYACCESS_API_KEY": "k"})
    assert_one_line_error(result, "--base-url", needle)
    assert "hunter22" not in result.stderr


def test_the_emulators_latency_refuses_nan(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("emulator", "--latency-ms", "nan"), "--latency-ms")


def test_an_input_read_from_a_pipe_is_read_once_and_onboarded(
    emulator: Emulator, tmp_path: Path
) -> None:
    """``onboard <(cat clients.csv)``: the file can be read only once, and that is enough."""
    source = write_csv(tmp_path / "source.csv", clean_rows(4))
    out = tmp_path / "results.csv"
    script = (
        f"exec {sys.executable} -m agencyaccess_async onboard "
        f"<(cat {source}) --services {SERVICES} --out {out} --base-url {emulator.base_url}"
    )

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")},
           **emulator.env()}  # fmt: skip
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = out.read_text().splitlines()
    assert len(rows) == 5 and all(",onboarded," in row for row in rows[1:])


def test_the_readmes_sample_command_twice_gives_the_same_exit_and_the_second_sends_nothing(
    tmp_path: Path,
) -> None:
    """The README's first command, run twice on a fresh folder: same exit status, same results.

    The embedded emulator has a new address each time; its journal has a name
    of its own, so a later run against a real server never trusts it.
    """
    args = ("onboard", str(EXAMPLES / "clients.csv"), "--services", SERVICES, "--out",
            str(tmp_path / "results.csv"), "--emulator")  # fmt: skip
    first, second = run_cli(*args), run_cli(*args)
    assert first.returncode == second.returncode == 1, second.stderr  # six bad sample rows
    assert "Traceback" not in first.stderr + second.stderr
    assert (tmp_path / "results.csv.emulator.journal").exists()
    assert not (tmp_path / "results.csv.journal").exists()
    assert "the invite URL of row" in first.stderr
    summary = [line for line in second.stderr.splitlines() if "rows onboarded" in line]
    assert summary and summary[0].startswith("onboard: 50 of 56 rows onboarded")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX resource limits")
def test_a_full_disk_stops_the_run_in_one_line_and_a_rerun_finishes_without_duplicates(
    emulator: Emulator, tmp_path: Path
) -> None:
    """RLIMIT_FSIZE stands in for a full disk: the journal cannot grow past 60 kB."""
    import resource

    table = write_csv(tmp_path / "clients.csv", clean_rows(300))
    out = tmp_path / "results.csv"
    args = _onboard(table, "--out", str(out), "--base-url", emulator.base_url)

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")},
           **emulator.env()}  # fmt: skip
    full = subprocess.run([sys.executable, "-m", "agencyaccess_async", *args], env=env,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=small_disk)  # fmt: skip
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    stopped = [line for line in full.stderr.splitlines() if "stopped:" in line]
    assert len(stopped) == 1 and "cannot write" in stopped[0]
    again = run_cli(*args, env=emulator.env())
    assert again.returncode == 0, again.stderr
    records = emulator.admin("counters")["records"]
    assert records == {"clients": 300, "links": 300}


@pytest.mark.parametrize("damage", ["garbage", "half"])
def test_a_damaged_journal_is_one_line_naming_it(
    emulator: Emulator, tmp_path: Path, damage: str
) -> None:
    table = write_csv(tmp_path / "clients.csv", clean_rows(20))
    out = tmp_path / "results.csv"
    args = _onboard(table, "--out", str(out), "--base-url", emulator.base_url)
    assert run_cli(*args, env=emulator.env()).returncode == 0
    journal = tmp_path / "results.csv.journal"
    data = journal.read_bytes()
    journal.write_bytes(b"\x00garbage" * 512 if damage == "garbage" else data[: len(data) // 2])
    result = run_cli(*args, env=emulator.env())
    assert_one_line_error(result, str(journal), "--fresh-journal")


def test_a_header_line_over_128_kib_is_one_line(tmp_path: Path) -> None:
    """A header cell past the csv module's default limit (128 KiB): one line, no traceback."""
    path = tmp_path / "clients.csv"
    path.write_text("name,email," + "x" * (200 << 10) + "\nAcme,a@acme.example,1\n")
    result = run_cli(*_onboard(path, "--emulator"))
    assert_one_line_error(result, "header cell 3 is 204,800 characters long")
