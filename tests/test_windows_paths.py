"""The code paths of a system without POSIX facilities, tested here with those removed.

No Windows machine is at hand: ``fcntl`` is hidden and a stand-in ``msvcrt``
(its ``locking`` and ``LK_NBLCK``, backed by ``fcntl.flock`` so that the lock
holds per open file, in this process and across processes, as Windows' does) takes its place; the emulator is run
with the loop's ``add_signal_handler`` removed, as on Windows' loops.
"""

from __future__ import annotations

import fcntl
import signal
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from agencyaccess_async._bulk._journal import Journal, JournalError, JournalLockedError

pytestmark = pytest.mark.unit


def _fake_msvcrt() -> types.ModuleType:
    module = types.ModuleType("msvcrt")
    module.LK_NBLCK = 2  # type: ignore[attr-defined]

    def locking(fd: int, mode: int, nbytes: int) -> None:
        assert mode == 2 and nbytes > 0
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PermissionError(13, "Permission denied") from None  # as msvcrt raises

    module.locking = locking  # type: ignore[attr-defined]
    return module


def test_without_fcntl_the_journal_is_locked_with_msvcrt(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "fcntl", None)  # "import fcntl" raises ImportError
    monkeypatch.setitem(sys.modules, "msvcrt", _fake_msvcrt())
    path = tmp_path / "job.journal"
    first = Journal(path, "job")
    try:
        # Another process takes the lock as Windows would: it is refused while we hold it.
        holder = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(f"""
                import fcntl, sys
                with open({str(path) + ".lock"!r}, "a+") as handle:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        sys.exit(3)
            """)], timeout=60,
        )  # fmt: skip
        assert holder.returncode == 3
        with pytest.raises(JournalLockedError):
            Journal(path, "job")  # a second run in this process
    finally:
        first.close()
    Journal(path, "job").close()  # released with the first


def test_with_no_lock_at_all_the_journal_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "fcntl", None)
    monkeypatch.setitem(sys.modules, "msvcrt", None)
    with pytest.raises(JournalError, match="no file lock"):
        Journal(tmp_path / "job.journal", "job")


@pytest.mark.process
def test_the_emulator_stops_cleanly_without_add_signal_handler() -> None:
    script = textwrap.dedent("""
        import asyncio, sys
        def missing(*args, **kwargs):
            raise NotImplementedError  # as on Windows' event loops
        asyncio.AbstractEventLoop.add_signal_handler = missing
        asyncio.BaseEventLoop.add_signal_handler = missing
        from agencyaccess_async._cli import main
        sys.exit(main(["emulator", "--port", "0"]))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout is not None
    while "Press Ctrl-C" not in process.stdout.readline():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "emulator stopped" in out and "Traceback" not in err
