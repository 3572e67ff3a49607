"""MkDocs hooks: the guides are the README's sections, the CLI page is the commands' help.

One source for each fact: a page holds ``{readme: Section title}`` where a
README section belongs (the README stays the one text, and ``tests/test_docs.py``
runs its blocks), and ``{cli: command}`` where a command's ``--help`` belongs
(generated from the parser, so it cannot go stale). A link of the README to a
file of the repository (``examples/...``) becomes the file's name in code:
the site has no copy of the repository to link to.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_README = ROOT / "README.md"
_MARKER = re.compile(r"^\{(readme|cli): ([^}]+)\}$", re.MULTILINE)
_LINK = re.compile(r"\[([^\]]+)\]\((?!https?://|#)([^)]+)\)")


def readme_section(title: str) -> str:
    """A README section's body, ``## title`` to the next ``## ``, its headings one level up."""
    text = _README.read_text(encoding="utf-8")
    if title == "Introduction":
        body = text.split("\n## ", 1)[0].split("\n", 1)[1]  # after the title, before "## "
    else:
        match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        if match is None:
            raise ValueError(f"README.md has no section {title!r}")
        body = match.group(1)
    body = re.sub(r"^###", "##", body, flags=re.MULTILINE)
    return _LINK.sub(lambda m: f"`{m.group(2)}`" if m.group(1) in m.group(2) else
                     f"{m.group(1)} (`{m.group(2)}`)", body)  # fmt: skip


def command_help(command: str) -> str:
    """``agencyaccess-async COMMAND --help``, as the parser prints it, in a text block."""
    from agencyaccess_async._cli import command_help as help_of

    return "```text\n" + help_of(command) + "```\n"


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Fill each ``{readme: ...}`` and ``{cli: ...}`` marker of a page."""
    return _MARKER.sub(
        lambda m: (
            readme_section(m.group(2)) if m.group(1) == "readme" else command_help(m.group(2))
        ),
        markdown,
    )
