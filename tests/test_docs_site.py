"""The reference site: built with ``mkdocs build --strict``, its links checked, searched in Chromium.

The build fails on any warning (a broken link or anchor, a page left out of the
nav, a reference that does not resolve). Then every internal link and anchor of
every built page must exist, and a reader who searches for ``with_options`` in a
real browser lands on its reference.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag

import pytest
from aiohttp import web

from tests.helpers import serve_app

pytestmark = [pytest.mark.process, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
_LINK = re.compile(r'(?:href|src)="([^"]+)"')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.environ.get("CI"):
        pytest.importorskip("mkdocstrings", reason="the docs tools come with the test group")
    built = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(built)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return built


def test_every_internal_link_and_anchor_of_the_site_exists(site: Path) -> None:
    pages = sorted(p for p in site.rglob("*.html") if p.name != "404.html")  # root-absolute
    ids = {page: set(re.findall(r'\sid="([^"]+)"', page.read_text())) for page in pages}
    broken = []
    for page in pages:
        for link in _LINK.findall(page.read_text()):
            if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # https:, mailto:, data:
                continue
            target, anchor = urldefrag(unquote(link))
            path = (page.parent / target).resolve() if target else page
            if path.is_dir():
                path = path / "index.html"
            if not path.exists() or (anchor and anchor not in ids.get(path, set())):
                broken.append(f"{page.relative_to(site)} -> {link}")
    assert broken == []
    assert len(pages) > 20
    reference = (site / "reference" / "index.html").read_text()
    assert 'id="agencyaccess_async.Session.with_options"' in reference


@pytest.fixture
async def served(site: Path) -> AsyncIterator[str]:
    app = web.Application()

    async def index(request: web.Request) -> web.StreamResponse:  # directory -> index.html
        raise web.HTTPFound(str(request.rel_url) + "index.html")

    app.router.add_get(r"/{path:(.*/)?}", index)
    app.router.add_static("/", site)
    async with serve_app(app) as url:
        yield url + "/"


@pytest.mark.browser
async def test_searching_with_options_in_chromium_lands_on_its_reference(
    browser: Any, served: str
) -> None:
    page = await browser.new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.goto(served + "index.html")
    assert "agencyaccess-async" in await page.title()
    await page.locator("label.md-search__icon, .md-search__input").first.click()
    await page.locator("input.md-search__input").press_sequentially("with_options", delay=20)
    first = page.locator(".md-search-result__item a[href*='with_options']").first
    await first.wait_for(timeout=20_000)  # the search index loads in a web worker
    await first.click()
    await page.wait_for_url(re.compile(r"/reference/.*#agencyaccess_async\.\w+\.with_options$"))
    heading = page.locator(f"[id='{page.url.split('#')[1]}']")
    assert await heading.is_visible()
    assert [url for url in asked if not url.startswith(served)] == []  # nothing from elsewhere
