"""A real notebook, executed by nbclient in a Jupyter kernel: top-level await, the progress
bar and its ETA on a rate-limited run, reprs, and a kernel interrupt mid-bulk.

The interrupt is what the notebook user does with the stop button: SIGINT to the kernel,
which cancels the cell's task. The cell must end with the run's summary (what was done,
what is left, how to go on), not the workers' traceback, and the Session must still work.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.process, pytest.mark.slow]

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

SERVICES = {
    "google": {"googleAds": {"accessLevel": "standard", "agencyAccountID": "acct_google_1"}}
}
CELLS = [
    "import agencyaccess_async as aa\n"
    "from agencyaccess_async.emulator import EmulatorConfig, EmulatorServer",
    # 20 requests a second: a row (a client and an access request) is 0.1 s at best.
    "server = EmulatorServer(EmulatorConfig(rate_limit=20))\nawait server.start()\n"
    "session = aa.Session(server.api_key, base_url=server.base_url)\n"
    f"services = {SERVICES!r}",
    "rows = [aa.OnboardItem(aa.NewClient(name=f'C{i}', email=f'c{i}@example.test'), key=f'r{i}')"
    " for i in range(400)]\n"
    "summary = await session.bulk.onboard(rows[:60], services=services, progress=True).run()\n"
    "summary",
    "page = await session.clients.list(limit=3).page()\npage",
    "run = session.bulk.onboard(rows[60:], services=services, journal='nb.journal', progress=True)"
    "\nopen('started', 'w').close()\nsummary = await run.run()",
    "print(run.summary.interrupted, run.summary.total > 0)\n"
    "print((await session.clients.list(limit=1).page()).items[0].client_id[:3])",
    "await session.aclose()\nawait server.stop()",
]


def _interrupt_when_started(client: Any, flag: Path) -> None:
    """The stop button: SIGINT to the kernel, 2 s into the interrupted cell's bulk run."""
    deadline = time.monotonic() + 120
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2)
    os.kill(client.km.provisioner.process.pid, signal.SIGINT)


def _shown(cell: Any) -> str:
    return "\n".join(
        output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        for output in cell.get("outputs", [])
    )


def test_a_notebook_shows_progress_with_an_eta_and_an_interrupt_ends_with_the_summary(
    tmp_path: Path,
) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # fmt: skip
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if "open('started'" in cell.source:
                threading.Thread(
                    target=_interrupt_when_started, args=(client, tmp_path / "started")
                ).start()
            client.execute_cell(cell, index)
    errors = [o for c in notebook.cells for o in c.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["CancelledError"], [e.evalue for e in errors]

    progress = _shown(notebook.cells[2])
    assert "60/60" in progress and "BulkSummary(outcomes={'created': 60}" in progress
    etas = [int(m) for m in re.findall(r"ETA (\d+)s", progress)]
    assert etas and max(etas) <= 8, progress  # 60 rows at 10 a second: from the limit
    assert "Page([Client(" in _shown(notebook.cells[3])

    interrupted = errors[0]
    assert re.match(
        r"bulk run interrupted after \d+ items \(\d+ created\); \d+ left\. Run the same call "
        r"again \(journal='nb.journal'\) to go on where it stopped\.$", interrupted.evalue
    ), interrupted.evalue  # fmt: skip
    frames = "\n".join(interrupted.traceback)
    assert "_results" not in frames and "worker" not in frames  # no internal traceback
    assert len(re.findall(r"File |Cell ", re.sub(r"\x1b\[[0-9;]*m", "", frames))) <= 2
    assert _shown(notebook.cells[5]).split() == ["True", "True", "cl_"]  # the Session works
