"""The client a team would generate instead of using the SDK: openapi-python-client's httpx
client, generated from the emulator's OpenAPI document (the contract as this repository
models it) into a temporary folder, and imported.

    from generated_client import generate
    api = generate(Path(tempfile.mkdtemp()))
    client = api.client.AuthenticatedClient(base_url=url, token=key, prefix="",
                                            auth_header_name="X-Auth")
    created = await api.clients_create.asyncio(client=client, body=api.NewClient(...))

Needs ``pip install openapi-python-client`` (the ``bench`` extra).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from agencyaccess_async.emulator._openapi import openapi_document

PACKAGE = "agencyaccess_generated"


def generate(folder: Path) -> SimpleNamespace:
    """Generate the client into ``folder`` and import it: its modules by the names used here."""
    document = folder / "openapi.json"
    document.write_text(json.dumps(openapi_document()))
    tool = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [str(tool), "generate", "--path", str(document), "--output-path", str(folder / PACKAGE),
         "--meta", "none", "--overwrite"],
        check=True, capture_output=True, text=True,
        env={**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    sys.path.insert(0, str(folder))
    api = f"{PACKAGE}.api.default"
    return SimpleNamespace(
        client=importlib.import_module(f"{PACKAGE}.client"),
        errors=importlib.import_module(f"{PACKAGE}.errors"),
        clients_create=importlib.import_module(f"{api}.clients_create"),
        clients_list=importlib.import_module(f"{api}.clients_list"),
        NewClient=importlib.import_module(f"{PACKAGE}.models").NewClient,
        Error=importlib.import_module(f"{PACKAGE}.models").Error,
    )
