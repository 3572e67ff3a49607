"""What ``status`` shows a manager: readable names, and the HTML report opened in Chromium."""

from __future__ import annotations

import asyncio
import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from agencyaccess_async._cli._report import (
    MAX_LISTED,
    Report,
    readable_access,
    readable_intake,
    service_name,
)
from tests.cli_helpers import EXAMPLES, Emulator, onboarded, read_results, run_cli
from tests.test_cli_status import answer_a_mix


@pytest.mark.unit
@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("google.googleAds", "Google Ads"),
        ("google.googleAdsMcc", "Google Ads MCC"),
        ("google.youtubeStudio", "YouTube Studio"),
        ("meta.instagram", "Instagram"),
        ("linkedin.linkedinCompanyPage", "LinkedIn Company Page"),
        ("tiktok.tiktokAds", "TikTok Ads"),
        ("shopify.storeCollaborator", "Shopify Store Collaborator"),
        ("hubspot.partner", "HubSpot Partner"),
        ("lightspeed.cSeries", "Lightspeed C Series"),
        ("newplatform.brandNewThing", "Newplatform Brand New Thing"),  # one the SDK never saw
    ],
)
def test_services_are_named_as_people_say_them(path: str, said: str) -> None:
    assert service_name(path) == said


@pytest.mark.unit
def test_access_and_intake_read_as_words() -> None:
    by_state = {"granted": ["google.googleAds"], "pending": ["meta.metaAds", "tiktok.tiktokAds"]}
    assert readable_access(by_state) == (
        "Google Ads: granted; Meta Ads: pending; TikTok Ads: pending"
    )
    assert readable_intake("notRequested") == "not requested"
    assert readable_intake("completed") == "completed"


@pytest.mark.unit
def test_the_report_escapes_what_the_file_says_and_links_only_web_addresses(
    tmp_path: Path,
) -> None:
    """A results file is the user's to edit: its cells are text, never markup or a script."""
    rows = [
        {"name": "<img src=x onerror=alert(1)>", "email": "a@x.test", "link_status": "pending",
         "services_pending": "google.googleAds", "invite_url": "javascript:alert(1)"},
        {"name": "Bea", "email": "b@x.test", "link_status": "partial",
         "services_granted": "meta.metaAds", "services_pending": "google.googleAds",
         "invite_url": "https://invite.test/?a=1&b=\"2\""},
    ] + [{"name": f"C{i}", "link_status": "pending"} for i in range(MAX_LISTED + 5)]  # fmt: skip
    report = tmp_path / "report.html"
    gathered = Report()
    for row in rows:
        gathered.add(row)
    gathered.write(report, {"pending": len(rows) - 1, "partial": 1}, "2026-12-07T10:00:00Z")
    page = report.read_text()
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="javascript' not in page and "<td>javascript:alert(1)</td>" in page
    assert 'href="https://invite.test/?a=1&amp;b=&quot;2&quot;"' in page
    assert "… and 7 more: see the status file" in page  # the list is bounded
    assert "<script" not in page and "default-src 'none'" in page
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left


@pytest.mark.process
@pytest.mark.browser
async def test_the_html_report_reads_right_in_chromium_and_loads_nothing(
    browser: Any, emulator: Emulator, tmp_path: Path
) -> None:
    """12 clients: 4 granted, 3 partial, 1 rejected, 4 pending; the report in a real browser."""
    report = tmp_path / "report.html"
    status_rows = await asyncio.to_thread(_status_of_a_known_mix, emulator, tmp_path, report)
    assert status_rows[0]["access"].startswith("Google Ads: granted")
    assert status_rows[11]["intake_form"] == "not requested"

    page = await browser.new_page(viewport={"width": 1000, "height": 800})
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.goto(report.as_uri())
    assert await page.title() == "Access requests: 4 of 12 granted"
    tiles = await page.locator(".tile").all_inner_texts()
    assert [" ".join(t.split()) for t in tiles] == [
        "4 granted", "3 partial", "4 pending", "1 rejected", "0 not found",
    ]  # fmt: skip
    services = json.loads((EXAMPLES / "services.json").read_text())
    assert await page.locator("svg text").first.text_content() == sorted(services)[0].capitalize()
    assert await page.locator("svg rect.granted").count() == len(services)
    listed = page.locator("tbody tr")
    assert await listed.count() == 7  # 3 partial and 4 pending; granted and rejected are not
    wanted = {r["invite_url"] for r in status_rows if r["link_status"] in ("partial", "pending")}
    hrefs = await page.locator("tbody a").evaluate_all("links => links.map(a => a.href)")
    assert set(hrefs) == wanted
    shots = Path(tempfile.mkdtemp(prefix="status-report-"))
    await page.screenshot(path=str(shots / "report.png"), full_page=True)
    assert (shots / "report.png").stat().st_size > 10_000
    assert asked == [report.as_uri()]  # self-contained: the page asked for nothing else
    print(f"screenshot: {shots / 'report.png'}")
    with (tmp_path / "clients.status.csv").open(newline="", encoding="utf-8-sig") as handle:
        assert "access" in next(csv.reader(handle))


def _status_of_a_known_mix(emulator: Emulator, folder: Path, report: Path) -> list[dict[str, str]]:
    """Onboard 12 rows, answer 8 of them, run ``status --html``; the status file's rows."""
    results = onboarded(emulator, folder, 12)
    answer_a_mix(emulator, [row["link_id"] for row in read_results(results)], 4, 3, 1)
    result = run_cli(
        "status", str(results), "--html", str(report), "--base-url", emulator.base_url,
        env=emulator.env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"report written to {report}" in result.stderr
    return read_results(folder / "clients.status.csv")
