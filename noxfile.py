"""Developer sessions: tests on every supported Python, lint, type check, benchmarks.

Python versions come from the classifiers in pyproject.toml, so adding a
version there adds it here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nox
import tomllib

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = tomllib.loads(Path(__file__).with_name("pyproject.toml").read_text())
PYTHONS = [
    match.group(1)
    for classifier in PYPROJECT["project"]["classifiers"]
    if (match := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", classifier))
]


def _pyenv_interpreters() -> None:
    """Put a pyenv interpreter of each claimed version at the end of the PATH.

    nox looks for ``python3.X`` on the PATH, and pyenv's shims only answer for the
    versions activated: without this, nox skips every version but the active one.
    Appended, so that an interpreter already on the PATH still wins.
    """
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = [
        str(sorted(folders)[-1])
        for version in PYTHONS
        if (folders := list(root.glob(f"versions/{version}.*/bin")))
    ]
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), *found])


_pyenv_interpreters()

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _install(session: nox.Session, *groups: str, extras: str = "") -> None:
    """The package (editable, with ``extras``) and the PEP 735 dependency ``groups``."""
    package = f".[{extras}]" if extras else "."
    requirements = [r for g in groups for r in nox.project.dependency_groups(PYPROJECT, g)]
    session.install("-e", package, *requirements)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest arguments after --)."""
    _install(session, "test")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def speedups(session: nox.Session) -> None:
    """Run the codec and model tests with the speedups extra (orjson) installed."""
    _install(session, "test", extras="speedups")
    tests = ["tests/test_models.py", "tests/test_codec.py"]
    session.run("python", "-m", "pytest", *tests, *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """A long schemathesis run against the emulator (AGENCYACCESS_FUZZ_EXAMPLES, default 1000)."""
    _install(session, "test")
    examples = session.env.get("AGENCYACCESS_FUZZ_EXAMPLES", "1000")
    session.run(
        "python", "-m", "pytest", "tests/test_emulator_hardening.py", "-k", "schemathesis",
        env={"AGENCYACCESS_FUZZ_EXAMPLES": examples},
    )  # fmt: skip


@nox.session
def notebook(session: nox.Session) -> None:
    """Run a real notebook through nbclient (a Jupyter kernel): progress, ETA, an interrupt."""
    _install(session, "test")
    session.run("pytest", "tests/test_notebook.py")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """What CI checks of types: mypy --strict, tests/typing, and --verifytypes at 100%."""
    _install(session, "dev")
    session.run("mypy", "--strict", "agencyaccess_async")
    session.run("mypy", "--strict", "tests/typing")
    session.run("pyright", "tests/typing")
    session.run("bash", ".ci/verifytypes", external=True)


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark, figures printed (see benchmarks/README.md)."""
    _install(session, "bench")
    for script in sorted(Path("benchmarks").glob("bench_*.py")):
        session.log(f"== {script}")
        session.run("python", str(script), *session.posargs)
