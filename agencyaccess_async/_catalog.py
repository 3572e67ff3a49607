"""The service catalog: platform -> service -> access levels, as plain data.

This is the one copy of the contract's catalog table. The SDK's
requested-services builder validates against it, and the emulator reads the
same data (plain dicts and tuples only, so the emulator shares data with the
SDK without sharing any of its models or converter).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CATALOG", "READ_ONLY_LEVELS", "Levels"]

#: The access levels of one service, most powerful first; empty when the
#: service has none.
Levels = tuple[str, ...]

#: platform -> service -> access levels (empty tuple: the service has none).
CATALOG: Mapping[str, Mapping[str, Levels]] = {
    "google": {
        "googleAds": ("admin", "standard", "readOnly", "emailOnly"),
        "googleAdsMcc": ("admin", "standard", "readOnly"),
        "googleAnalytics": ("administrator", "editor", "analyst", "viewer"),
        "googleTagManager": ("publish", "approve", "edit", "read"),
        "googleMerchantCenter": ("admin", "standard"),
        "googleSearchConsole": ("owner", "full", "restricted"),
        "googleBusinessProfile": ("owner", "manager"),
        "youtubeStudio": ("manager", "editor", "viewer"),
        "lookerStudio": ("editor", "viewer"),
    },
    "meta": {
        "metaAds": ("admin", "advertiser", "analyst"),
        "facebookPages": ("fullControl", "partialAccess"),
        "facebookCatalog": ("admin", "advertiser"),
        "metaPixels": ("admin", "advertiser"),
        "instagram": ("fullControl", "partialAccess"),
    },
    "linkedin": {
        "linkedinAds": ("accountManager", "campaignManager", "creativeManager", "viewer"),
        "linkedinCompanyPage": ("superAdmin", "contentAdmin", "analyst"),
    },
    "tiktok": {"tiktokAds": ("admin", "operator", "analyst")},
    "twitter": {
        "twitterAds": ("adManager", "creativeManager", "campaignAnalyst"),
        "twitterDelegate": (),
    },
    "pinterest": {"pinterestAds": ("admin", "campaignManager", "analyst")},
    "microsoft": {
        "microsoftAds": ("standard", "viewer"),
        "microsoftClarity": ("admin", "member"),
    },
    "amazon": {"amazonAds": ("admin", "editor", "viewer")},
    "snapchat": {
        "snapchatAds": ("admin", "member"),
        "snapchatBusiness": ("admin", "member"),
    },
    "reddit": {"redditAds": ("admin", "analyst")},
    "apple": {"appleSearchAds": ("admin", "readOnly")},
    "shopify": {"storeCollaborator": ()},
    "hubspot": {"partner": ()},
    "klaviyo": {"account": ("owner", "admin", "manager", "analyst")},
    "mailchimp": {"dashboard": ("admin", "manager", "author", "viewer")},
    "wordpress": {"site": ("administrator", "editor")},
    "lightspeed": {"cSeries": ()},
    "channable": {"dashboard": ()},
    "cookiebot": {"account": ()},
    "profitmetrics": {"partner": ()},
    "hotjar": {"dashboard": ("admin", "user")},
    "activecampaign": {"account": ("admin", "user")},
    "wix": {"site": ("admin", "editor")},
    "webflow": {"site": ("admin", "editor")},
}

#: (platform, service) -> the read-only level (the one marked * in the
#: contract), for every service that has levels. In this catalog it is always
#: the last, least powerful level.
READ_ONLY_LEVELS: Mapping[tuple[str, str], str] = {
    (platform, service): levels[-1]
    for platform, services in CATALOG.items()
    for service, levels in services.items()
    if levels
}
