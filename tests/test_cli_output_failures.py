"""Output that cannot be written: one line naming the file and what already happened (#36, 7).

Run as processes against an emulator process. A read-only folder, and a
file locked by a spreadsheet, are made immutable (``chattr +i``), which
holds for root too (CI runs as root, who writes anywhere else): nothing can
be created in such a folder, and such a file cannot be renamed over. A full
disk is a file-size limit in the child (``RLIMIT_FSIZE``, with SIGXFSZ
ignored, so a write fails with an OSError as on a full disk).
"""

from __future__ import annotations

import contextlib
import csv
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import (
    CLI,
    EXAMPLES,
    Emulator,
    onboarded,
    read_results,
    requests_of,
    run_cli,
)

pytestmark = pytest.mark.process

SERVICES = str(EXAMPLES / "services.json")


def run_limited(
    emulator: Emulator, *args: str, preexec: Callable[[], None] | None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    environment.update(emulator.env())
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, env=environment,
        preexec_fn=preexec,
    )  # fmt: skip


def files_up_to(size: int) -> Callable[[], None]:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    if shutil.which("chattr") is None:
        pytest.skip("no chattr here to lock a file")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem or user cannot make a file immutable")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def one_line(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    lines = [line for line in result.stderr.splitlines() if "items/s" not in line]
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert len([line for line in lines if "error:" in line or "stopped:" in line]) == 1, lines
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_status_into_a_read_only_folder_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    results = onboarded(emulator, tmp_path, 3)
    folder = tmp_path / "locked"
    folder.mkdir()
    with immutable(folder):
        result = run_limited(emulator, "status", str(results), "--out", str(folder / "s.csv"),
                             preexec=None)  # fmt: skip
    one_line(result, 2, f"--out {folder / 's.csv'}: the folder {folder} is not writable")


def test_status_on_a_full_disk_writes_nothing_half(emulator: Emulator, tmp_path: Path) -> None:
    results = onboarded(emulator, tmp_path, 30)
    out = tmp_path / "clients.status.csv"
    result = run_limited(emulator, "status", str(results), preexec=files_up_to(2048))
    one_line(result, 1, f"cannot write {out}", "the statuses of 30 links were read but not written")
    assert not out.exists()
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("command", ["update", "delete"])
def test_update_and_delete_in_a_read_only_folder_send_nothing(
    emulator: Emulator, tmp_path: Path, command: str
) -> None:
    folder = tmp_path / "job"
    folder.mkdir()
    results = onboarded(emulator, folder, 3)
    extra = ["--thank-you-message", "Thanks"] if command == "update" else ["--yes"]
    with immutable(folder):
        result = run_limited(emulator, command, str(results), *extra, preexec=None)
    one_line(result, 2, f"{command}.journal.lock: cannot create", "; nothing was sent")
    assert requests_of(emulator, "links.update") + requests_of(emulator, "clients.delete") == 0


def test_delete_with_a_locked_results_file_says_what_was_deleted_and_a_rerun_marks_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    results = onboarded(emulator, tmp_path, 3)
    before = results.read_bytes()
    with immutable(results):
        locked = run_cli("delete", str(results), "--yes", env=emulator.env())
        one_line(locked, 1, "deleted 3 clients (row 2 (Client 0)", "but cannot rewrite",
                 "run the same command again")  # fmt: skip
    assert results.read_bytes() == before
    assert emulator.admin("counters")["records"] == {"clients": 0, "links": 0}
    again = run_cli("delete", str(results), "--yes", env=emulator.env())
    assert again.returncode == 0, again.stderr
    assert requests_of(emulator, "clients.delete") == 3  # nothing sent the second time
    assert {row["status"] for row in read_results(results)} == {"deleted"}


def test_sigterm_while_delete_rewrites_the_file_exits_143_with_the_file_whole(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A large file, one row deleted: SIGTERM once the run is over lands during the rewrite."""
    results = onboarded(emulator, tmp_path, 1)
    (row,) = read_results(results)
    with results.open("a", newline="") as handle:  # 150,000 more rows, of another account
        writer = csv.writer(handle)
        for i in range(150_000):
            writer.writerow([row[c] if c == "target" else f"x{i}" for c in row])
    before = results.read_bytes()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    process = subprocess.Popen(
        [*CLI, "delete", str(results), "--where", f"client_id={row['client_id']}", "--yes"],
        stderr=subprocess.PIPE, text=True, env={**environment, **emulator.env()},
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:
        if "1 selected:" in line:
            process.send_signal(signal.SIGTERM)
            break
    process.communicate(timeout=120)
    assert process.returncode == 143
    after = results.read_bytes()
    assert after != before and after.count(b"\n") == before.count(b"\n")
    assert read_results(results)[0]["status"] == "deleted"  # wholly new
    assert not list(tmp_path.glob(".*.tmp"))
