"""What ``status`` shows a person: service names and states as they are said, and its HTML report.

``google.googleAds`` is "Google Ads" and ``notRequested`` is "not requested"
(the status file keeps the API's ids beside them, for filters and scripts).
``status --html REPORT.html`` writes one self-contained page a manager can
read: the counts, a chart of grants by platform, and the clients still to
answer with their invite links. It loads nothing (no script, no font, no
image: a Content-Security-Policy forbids it), and everything it shows from
the file is escaped. It is gathered in the pass that writes the status file
(no second read of it), and its memory is bounded: the chart sums by platform, and
the list stops at ``MAX_LISTED`` clients, saying how many more the status
file holds.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from ._common import open_atomically

__all__ = ["MAX_LISTED", "Report", "readable_access", "readable_intake", "service_name"]

#: The clients the report lists by name; the status file has them all.
MAX_LISTED = 500
#: Words a brand spells its own way.
_SPELLED = {
    "activecampaign": "ActiveCampaign", "hubspot": "HubSpot", "linkedin": "LinkedIn",
    "mcc": "MCC", "profitmetrics": "ProfitMetrics", "tiktok": "TikTok",
    "wordpress": "WordPress", "youtube": "YouTube",
}  # fmt: skip
#: Services named after a brand of their own, not their platform's.
_OWN_BRAND = {"facebook", "instagram", "looker", "youtube"}
_STATES = ("granted", "pending", "rejected")


def _word(word: str) -> str:
    return _SPELLED.get(word.lower(), word[:1].upper() + word[1:])


def service_name(path: str) -> str:
    """``platform.service`` as a person says it: ``google.googleAds`` is "Google Ads"."""
    platform, _, service = path.partition(".")
    words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", service) or [service]
    if words[0].lower() != platform.lower() and words[0].lower() not in _OWN_BRAND:
        words.insert(0, platform)  # shopify.storeCollaborator: "Shopify Store Collaborator"
    return " ".join(_word(w) for w in words if w)


def readable_access(by_state: Mapping[str, Iterable[str]]) -> str:
    """Each service and its state: "Google Ads: granted; Meta Ads: pending"."""
    return "; ".join(
        f"{service_name(path)}: {state}" for state in _STATES for path in by_state.get(state, ())
    )


def readable_intake(status: str) -> str:
    """The intake form's state in words: ``notRequested`` is "not requested"."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", status).lower()


class Report:
    """The HTML report of one check, gathered row by row as the status file is written.

    ``add`` takes each row with a link (its cells and status columns by name), in
    the same pass that writes the status file; ``write`` then writes the page.
    """

    def __init__(self) -> None:
        self._by_platform: dict[str, Counter[str]] = {}
        self._waiting: list[Mapping[str, str]] = []
        self._more = 0

    def add(self, row: Mapping[str, str]) -> None:
        """Count a row's services by platform; keep it to list if it is still to answer."""
        for state in _STATES:
            for service in row.get(f"services_{state}", "").split():
                platform = service.partition(".")[0]
                self._by_platform.setdefault(platform, Counter())[state] += 1
        if row.get("link_status") in ("pending", "partial"):
            if len(self._waiting) < MAX_LISTED:
                self._waiting.append(row)
            else:
                self._more += 1

    def write(self, path: Path, counts: Mapping[str, int], checked: str) -> None:
        """Write the page atomically: ``counts`` by link status, ``checked`` when read."""
        page = _page(self._by_platform, self._waiting, self._more, counts, checked)
        with open_atomically(path) as handle:
            handle.write(page)


def _page(
    by_platform: Mapping[str, Counter[str]],
    waiting: list[Mapping[str, str]],
    more: int,
    counts: Mapping[str, int],
    checked: str,
) -> str:
    e = html.escape
    total = sum(counts.values())
    tiles = "".join(
        f'<div class="tile {state.replace(" ", "-")}"><b>{counts.get(state, 0)}</b>{state}</div>'
        for state in ("granted", "partial", "pending", "rejected", "not found")
    )
    rows = "".join(
        f"<tr><td>{e(row.get('name') or row.get('client_name') or '')}</td>"
        f"<td>{e(row.get('email', ''))}</td><td>{e(row.get('link_status', ''))}</td>"
        f"<td>{e(_waiting_for(row))}</td><td>{_link(row.get('invite_url', ''))}</td></tr>"
        for row in waiting
    )
    if more:
        rows += f'<tr><td colspan="5">… and {more} more: see the status file</td></tr>'
    listed = (
        "<table><thead><tr><th>Client</th><th>E-mail</th><th>Status</th><th>Waiting for</th>"
        f"<th>Invite link</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else "<p>Every client has answered.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Access requests: {counts.get("granted", 0)} of {total} granted</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
.tiles {{ display: flex; gap: 1em; flex-wrap: wrap; }}
.tile {{ border: 1px solid #ccc; border-radius: 6px; padding: .5em 1em; min-width: 6em; }}
.tile b {{ display: block; font-size: 1.8em; }}
.granted b {{ color: #1a7f37; }} .rejected b {{ color: #cf222e; }} .pending b {{ color: #9a6700; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .3em .6em; vertical-align: top; }}
td {{ border-top: 1px solid #eee; }}
td a {{ word-break: break-all; }}
</style></head><body>
<h1>Access requests</h1>
<p>{total} links, checked {e(checked)}.</p>
<div class="tiles">{tiles}</div>
<h2>Grants by platform</h2>
{_chart(by_platform)}
<h2>Still to answer</h2>
{listed}
</body></html>
"""


def _waiting_for(row: Mapping[str, str]) -> str:
    return ", ".join(service_name(p) for p in row.get("services_pending", "").split())


def _link(url: str) -> str:
    """The invite link as a link, only when it is one (a file's cell could hold anything)."""
    if not re.match(r"https?://", url):
        return html.escape(url)
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>'


def _chart(by_platform: Mapping[str, Counter[str]]) -> str:
    """A horizontal bar per platform: granted, pending and rejected services, to scale."""
    if not by_platform:
        return "<p>No services requested.</p>"
    widest = max(sum(c.values()) for c in by_platform.values())
    colours = {"granted": "#2da44e", "pending": "#d4a72c", "rejected": "#cf222e"}
    bars: list[str] = []
    for number, (platform, counted) in enumerate(sorted(by_platform.items())):
        y, x = number * 28, 120.0
        bars.append(f'<text x="0" y="{y + 17}">{html.escape(_word(platform))}</text>')
        for state in _STATES:
            width = 360 * counted[state] / widest
            if width:
                bars.append(
                    f'<rect class="{state}" x="{x:.1f}" y="{y + 4}" width="{width:.1f}" '
                    f'height="20" fill="{colours[state]}"><title>{counted[state]} {state}'
                    "</title></rect>"
                )
            x += width
        summary = ", ".join(f"{counted[s]} {s}" for s in _STATES if counted[s])
        bars.append(f'<text x="{x + 6:.1f}" y="{y + 17}">{summary}</text>')
    height = len(by_platform) * 28
    return (
        f'<svg role="img" aria-label="grants by platform" width="900" height="{height}" '
        f'viewBox="0 0 900 {height}">{"".join(bars)}</svg>'
    )
