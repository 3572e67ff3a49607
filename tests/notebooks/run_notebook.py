"""Run a real notebook through nbclient: top-level await, a bulk run with progress=True, reprs.

Not collected by pytest (it starts a Jupyter kernel): ``nox -s notebook`` runs it.
It exits non-zero, naming the cell, if the notebook fails or shows the wrong thing.
"""

from __future__ import annotations

import sys

import nbformat
from nbclient import NotebookClient

CELLS = [
    "import agencyaccess_async as aa\nfrom agencyaccess_async.emulator import EmulatorServer",
    "server = EmulatorServer()\nawait server.start()\n"
    "session = aa.Session(server.api_key, base_url=server.base_url)",
    "rows = [aa.NewClient(name=f'C{i}', email=f'c{i}@example.test') for i in range(20)]\n"
    "summary = await session.bulk.create_clients(rows, total=20, progress=True).run()\nsummary",
    "page = await session.clients.list(limit=3).page()\npage",
    "str(aa.LinkStatus.PENDING)",
    "await session.aclose()\nawait server.stop()",
]


def main() -> int:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") + str(output.get("data", {}).get("text/plain", "")))
    shown = "\n".join(texts)
    expected = ["BulkSummary(outcomes={'created': 20}", "Page([Client(", "'pending'", "20/20"]
    missing = [needle for needle in expected if needle not in shown]
    if missing:
        print(f"the notebook did not show {missing}:\n{shown}", file=sys.stderr)
        return 1
    print("notebook ran: top-level await, progress bar, summary, page and enum reprs as expected")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
