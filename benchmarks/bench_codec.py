"""Codec cost: µs per encode/decode of a NewLink with 5 services and a Link with 5 grants.

Compared, in the same run, with json.dumps/json.loads of the equivalent dicts,
which is the floor any hand-written aiohttp call pays. Run:

    python benchmarks/bench_codec.py [--stdlib]
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit
from typing import Any

from agencyaccess_async import Link, NewLink, RequestedServices, _json
from agencyaccess_async._converter import CONVERTER

STAMP = "2026-11-28T05:00:00.000Z"
SERVICES = (
    RequestedServices.build()
    .add("google", "googleAds", access_level="standard", agency_account_id="acct_google_1")
    .add("google", "googleAnalytics", access_level="viewer", agency_account_id="acct_google_1")
    .add("meta", "metaAds", access_level="admin", agency_account_id="acct_meta_1")
    .add("linkedin", "linkedinAds", access_level="viewer", agency_account_id="acct_linkedin_1")
    .add("shopify", "storeCollaborator", agency_account_id="acct_shopify_1")
    .build()
)


def link_payload() -> dict[str, Any]:
    grants = [
        {
            "platform": e.platform, "service": e.service, "accessLevel": e.access_level,
            "agencyAccountID": e.agency_account_id, "status": "pending", "grantedAt": None,
        }
        for e in SERVICES
    ]  # fmt: skip
    return {
        "linkID": "ln_0123456789abcdef", "clientID": "cl_0123456789abcdef",
        "inviteUrl": "https://app.agencyaccess.co/invite/abcdefghijklmnopqrstuvwxyz012345",
        "status": "pending", "requestedServices": SERVICES.to_json(), "grants": grants,
        "intakeForm": False, "sendEmail": False, "thankYouMessage": None, "redirectURL": None,
        "intakeFormStatus": "notRequested", "source": None, "createdAt": STAMP, "updatedAt": STAMP,
    }  # fmt: skip


def best_us(stmt: Any, number: int = 20_000, repeat: int = 5) -> float:
    runs = timeit.repeat(stmt, number=number, repeat=repeat)
    return min(runs) / number * 1e6, statistics.median(runs) / number * 1e6  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stdlib", action="store_true", help="use the stdlib json codec")
    args = parser.parse_args()
    if args.stdlib:
        _json.use_stdlib(True)
    new_link = NewLink(client_id="cl_0123456789abcdef", services=SERVICES)
    new_link_dict = CONVERTER.unstructure(new_link)
    body = _json.dumps(link_payload())
    envelope_body = _json.dumps({"error": False, "data": link_payload()})

    rows = [
        (
            "encode NewLink: SDK (converter + codec)",
            lambda: _json.dumps(CONVERTER.unstructure(new_link)),
        ),
        ("encode NewLink: json.dumps(dict)", lambda: json.dumps(new_link_dict).encode()),
        (
            "decode Link: SDK (codec + converter)",
            lambda: CONVERTER.structure(_json.loads(envelope_body)["data"], Link),
        ),
        ("decode Link: json.loads(bytes)", lambda: json.loads(body)),
    ]
    print(f"codec: {_json.CODEC}")
    results = {}
    for name, stmt in rows:
        best, median = best_us(stmt)
        results[name] = best
        print(f"{name:<44} {best:7.2f} µs (median {median:.2f})")
    sdk = results[rows[0][0]] + results[rows[2][0]]
    plain = results[rows[1][0]] + results[rows[3][0]]
    print(
        f"create round trip: SDK {sdk:.2f} µs vs plain json {plain:.2f} µs -> +{sdk - plain:.2f} µs (goal <= 6)"
    )


if __name__ == "__main__":
    main()
