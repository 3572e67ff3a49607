"""Documentation that runs: every README code block, every example, every public docstring."""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import agencyaccess_async as aa
from agencyaccess_async.testing import RunningEmulator

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def _env(emulator: RunningEmulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    env.update(AGENCYACCESS_API_KEY=emulator.api_key, AGENCYACCESS_BASE_URL=emulator.base_url)
    return env


def test_readme_has_the_two_commands_and_ci_runs_the_second() -> None:
    """The README's first two shell lines install and run the main job and the tests; CI runs the latter."""
    commands = [line for line in README.splitlines() if line.startswith("python3 -m venv .venv")]
    assert len(commands) == 2
    assert "agencyaccess-async onboard examples/clients.csv" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    "block", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))]
)
async def test_readme_python_blocks_run(
    block: str,
    agencyaccess_emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each Python block of the README runs against the emulator: scripts as scripts, snippets in a loop."""
    monkeypatch.chdir(tmp_path)  # files a block writes (a journal) stay with this test
    if "asyncio.run(" in block:
        script = tmp_path / "block.py"
        script.write_text(block)
        # Not subprocess.run: the emulator serves from this very event loop.
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), env=_env(agencyaccess_emulator),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, stderr.decode()
        return
    redis = None
    if "redis_url" in block:  # a block on leases: a real redis-server of its own
        from .test_redis_limiter import REDIS_SERVER, RedisServer

        if REDIS_SERVER is None:
            if os.environ.get("CI"):
                pytest.fail("CI must run the Redis tests: install Debian's redis-server")
            pytest.skip("no redis-server here")
        redis = RedisServer()
        redis.start()
    async with agencyaccess_emulator.session() as session:
        services = (
            aa.RequestedServices.build()
            .add("google", "googleAds", access_level="standard", agency_account_id="acct_google_1")
            .build()
        )
        namespace: dict[str, Any] = {
            "aa": aa, "session": session, "services": services,
            "crm_export": [(f"crm-{i}", f"Client {i}", f"c{i}@example.test") for i in range(5)],
            "rows": [aa.NewClient(name=f"Client {i}", email=f"c{i}@example.test") for i in range(3)],
            "agency_id": 42, "redis_url": redis.url if redis else None,
        }  # fmt: skip
        code = compile(block, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        try:
            result = eval(code, namespace)
            if inspect.isawaitable(result):
                await result
        finally:
            if redis is not None:
                redis.stop()
        for name, value in list(namespace.items()):
            if name.startswith("test_") and inspect.iscoroutinefunction(value):
                await value(agencyaccess_emulator, session)


async def test_webapp_example(
    agencyaccess_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web backend example onboards a sign-up and maps SDK errors to HTTP answers."""
    from aiohttp.test_utils import TestClient, TestServer

    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import webapp
    finally:
        sys.path.remove(str(ROOT / "examples"))
    for key, value in _env(agencyaccess_emulator).items():
        if key.startswith("AGENCYACCESS_"):
            monkeypatch.setenv(key, value)
    async with TestClient(TestServer(webapp.make_app())) as http:
        created = await http.post("/signup", json={"name": "Acme", "email": "ops@acme.example"})
        assert created.status == 201
        assert "/invite/" in (await created.json())["inviteUrl"]
        refused = await http.post("/signup", json={"name": "Acme", "email": "nope"})
        assert refused.status == 422
        assert (await refused.json())["field"] == "email"
        await agencyaccess_emulator.admin.set_faults(
            errorRates={"502": 1.0}, routes=["clients.create"]
        )
        unavailable = await http.post("/signup", json={"name": "Acme", "email": "ops@acme.example"})
        assert unavailable.status == 502
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"] == {"clients": 1, "links": 1}


def test_notebook_example() -> None:
    """The notebook-style script runs end to end and shows the reprs and the bulk summary."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "notebook.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Client(client_id='cl_" in result.stdout
    assert (
        "RequestedServices(google.googleAnalytics=viewer, shopify.storeCollaborator)"
        in result.stdout
    )
    assert "200/200 onboarded" in result.stdout


def test_user_suite_example() -> None:
    """The example of a user's own test suite passes with the SDK's pytest plugin."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "agencyaccess_async.testing", "-p", "no:cacheprovider",
         str(ROOT / "examples" / "test_user_suite.py")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


PUBLIC_MODULES = [
    aa,
    __import__("agencyaccess_async.testing", fromlist=["x"]),
    __import__("agencyaccess_async.emulator", fromlist=["x"]),
]


def _public_objects() -> list[tuple[str, Any]]:
    objects = []
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                objects.append((f"{module.__name__}.{name}", value))
                if inspect.isclass(value):
                    for attr, member in vars(value).items():
                        if not attr.startswith("_") and (
                            inspect.isfunction(member)
                            or isinstance(member, (property, classmethod, staticmethod))
                        ):
                            objects.append((f"{module.__name__}.{name}.{attr}", member))
    return objects


def test_every_public_name_has_a_docstring() -> None:
    """Every public class, function, method and property has a docstring starting with a summary line."""
    missing = []
    for name, value in _public_objects():
        target = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
        doc = inspect.getdoc(target)
        if not doc or not doc.splitlines()[0].strip():
            missing.append(name)
    assert missing == []


def test_the_metrics_named_in_the_docs_are_the_ones_made() -> None:
    """The README and the telemetry module name exactly the metrics ``Telemetry`` makes."""
    from agencyaccess_async import _telemetry

    made = {name for _, name, _, _ in _telemetry.METRICS}
    pattern = r"agencyaccess\.client\.[a-z_.]*[a-z]"
    assert set(re.findall(pattern, README)) == made
    assert set(re.findall(pattern, _telemetry.__doc__ or "")) == made


def test_changelog_keeps_an_unreleased_section() -> None:
    """CHANGELOG.md follows Keep a Changelog with an Unreleased section."""
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert "keepachangelog.com" in text


@pytest.mark.process
def test_the_readme_pytest_section_works_pasted_into_a_new_project(tmp_path: Path) -> None:
    """conftest line and test as the README shows them, in a fresh folder, pytest in strict mode."""
    section = README.split("## Testing your code", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    conftest = next(b for b in blocks if "pytest_plugins" in b)
    test = next(b for b in blocks if "async def test_" in b)
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_signup.py").write_text(test)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=environment,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


BASH_BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.S)


def test_readme_after_onboarding_walkthrough_runs(tmp_path: Path) -> None:
    """The "After onboarding" block as pasted: a fresh bash, the venv's programs by their
    .venv/bin paths (here this venv's), a copy of examples/, its port made free."""
    (block,) = [b for b in BASH_BLOCKS if "agencyaccess-async status" in b]
    assert "8765" not in block  # the Quick start's emulator may be running there
    script = block.replace("8766", str(_free_port()))
    (tmp_path / "examples").mkdir()
    for name in ("clients.csv", "services.json"):
        (tmp_path / "examples" / name).write_bytes((ROOT / "examples" / name).read_bytes())
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    env.pop("VIRTUAL_ENV", None)  # not activated: the block names .venv/bin itself
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script + "\nwait || true\n"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    status = (tmp_path / "examples" / "clients.status.csv").read_text()
    assert status.count(",deleted,") >= 2  # the two who granted, deleted
    assert "update: " in result.stderr and "delete: " in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
