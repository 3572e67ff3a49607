"""Documentation that runs: every README code block, every example, every public docstring."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import time
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


#: README shell blocks this test does not run, by a phrase each holds, and why.
NOT_RUN = {
    "redis.internal": "needs a Redis server and an account of the reader's own",
    "apt-get install chromium": "installs a system package (.ci/run does it when missing)",
}
_QUICK_START_PORT, _AFTER_ONBOARDING_PORT = 8765, 8766


def test_every_readme_shell_block_runs_as_pasted_in_order(tmp_path: Path) -> None:
    """The README's bash blocks, in order, each in a fresh bash, in one copy of the examples.

    The venv is the one the Two commands made (here, this one, as .venv);
    their second command is what runs this test. The Quick start's emulator
    runs "in another terminal" (in the background here) for the rest of the
    walk-through, so the After onboarding block, which starts its own, shows
    that no two blocks fight over a port; the curl blocks then talk to the
    Quick start's emulator with the two variables it printed. No block may
    wait forever (each has a timeout), and every block is run or named in
    ``NOT_RUN``.
    """
    if not all(_port_free(port) for port in (_QUICK_START_PORT, _AFTER_ONBOARDING_PORT)):
        pytest.skip("port 8765 or 8766 is in use here: the blocks' own ports are what is tested")
    (tmp_path / "examples").mkdir()
    for name in ("clients.csv", "services.json"):
        (tmp_path / "examples" / name).write_bytes((ROOT / "examples" / name).read_bytes())
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    env.pop("VIRTUAL_ENV", None)  # not activated: the blocks name .venv/bin themselves

    def bash(script: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script + "\nwait || true\n"],
            cwd=tmp_path, env={**env, **(extra or {})}, capture_output=True, text=True,
            timeout=240,
        )  # fmt: skip

    quick_start: subprocess.Popen[str] | None = None
    printed: dict[str, str] = {}
    ran = []
    try:
        for block in BASH_BLOCKS:
            if any(phrase in block for phrase in NOT_RUN):
                continue
            if block.lstrip().startswith("# 1. Install"):
                # The Two commands: the first with its set-up done (the venv exists),
                # the second is the test suite this test is part of.
                main_job, tests = [
                    line for line in block.splitlines() if line.startswith("python3")
                ]
                setup, _, job = main_job.partition("-e . && ")
                assert setup.startswith("python3 -m venv .venv") and "pytest" in tests
                result = bash(job)
                assert result.returncode == 1, result.stderr  # six bad rows, as the README says
                assert "rehearsal" in result.stderr and (tmp_path / "results.csv").exists()
            elif "agencyaccess-async emulator" in block and "&" not in block:
                # "in another terminal": it runs until stopped, printing the two variables.
                log = tmp_path / "quick-start-emulator.log"  # a file: a pipe left unread fills
                with log.open("w") as output:
                    quick_start = subprocess.Popen(
                        ["bash", "-c", block], cwd=tmp_path, env=env, text=True,
                        stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                    )  # fmt: skip
                for _ in range(200):  # 20 s at most
                    printed = dict(re.findall(r"(AGENCYACCESS_\w+)=(\S+)", log.read_text()))
                    if {"AGENCYACCESS_BASE_URL", "AGENCYACCESS_API_KEY"} <= printed.keys():
                        break
                    time.sleep(0.1)
                assert printed["AGENCYACCESS_BASE_URL"].endswith(f":{_QUICK_START_PORT}")
            elif "curl" in block:
                result = bash(block, printed)
                assert result.returncode == 0, result.stderr
                answer = json.loads(result.stdout)
                assert answer["error"] is True  # a placeholder id or key: the API says so
                shown = re.search(r"^# (\{.*\})$", block, re.M)
                if shown:  # the block shows the answer it gets
                    assert answer == json.loads(shown[1])
            else:
                result = bash(block)
                assert result.returncode == 0, result.stderr
            ran.append(block.splitlines()[0][:60])
    finally:
        if quick_start is not None:
            os.killpg(quick_start.pid, 15)
            quick_start.wait(timeout=30)
    assert all(any(p in b for b in BASH_BLOCKS) for p in NOT_RUN)  # no reason left stale
    assert len(ran) == len(BASH_BLOCKS) - len(NOT_RUN)
    status = (tmp_path / "examples" / "clients.status.csv").read_text()
    assert status.count(",deleted,") >= 2  # After onboarding: the two who granted, deleted


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
