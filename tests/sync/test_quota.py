"""The Sforce-Limit-Info parser (each documented form) and the quota guard's stop rule."""

from __future__ import annotations

import pytest

from salescoach_sync.errors import QuotaStop
from salescoach_sync.quota import ApiUsage, QuotaGuard, parse_limit_info, usage_from_limits


@pytest.mark.parametrize(
    ("header", "org", "per_app"),
    [
        ("api-usage=18/5000", ApiUsage(18, 5000), None),
        ("api-usage=10018/100000; api-bursts=1/750", ApiUsage(10018, 100000), None),
        ("per-app-api-usage=17/250(appName=sample-app)", None, ApiUsage(17, 250, "sample-app")),
        (
            "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)",
            ApiUsage(25, 5000),
            ApiUsage(17, 250, "sample-connected-app"),
        ),
        # The bursts figure comes first, spaces around the separators, upper case: still read.
        ("api-bursts=3/750 ;  API-USAGE = 42 / 15000", ApiUsage(42, 15000), None),
    ],
)
def test_every_documented_form_is_parsed(header: str, org: ApiUsage | None, per_app: ApiUsage | None) -> None:
    info = parse_limit_info(header)
    assert info.org == org
    assert info.per_app == per_app


@pytest.mark.parametrize("header", [None, "", "garbage", "api-usage=abc/def", "api-bursts=1/750"])
def test_unusable_headers_give_no_figure(header: str | None) -> None:
    assert parse_limit_info(header).org is None


def test_guard_stops_at_the_share_of_the_org_limit() -> None:
    guard = QuotaGuard(0.8)
    guard.observe_header("api-usage=79999/100000; api-bursts=1/750")
    guard.check()
    guard.observe_header("api-usage=80000/100000; api-bursts=1/750")
    with pytest.raises(QuotaStop, match=r"80,000 of 100,000 daily API requests \(80%\)"):
        guard.check()


def test_guard_stops_at_the_share_of_a_per_app_limit() -> None:
    guard = QuotaGuard(0.8)
    guard.observe_header("api-usage=10/100000; per-app-api-usage=200/250(appName=salescoach)")
    with pytest.raises(QuotaStop, match=r"connected app \(salescoach\)"):
        guard.check()


def test_missing_header_asks_for_limits_and_reads_them() -> None:
    guard = QuotaGuard(0.8)
    assert not guard.needs_limits  # nothing seen yet: the first call brings a figure
    guard.observe_header(None)
    assert guard.needs_limits
    guard.observe_limits({"DailyApiRequests": {"Max": 15000, "Remaining": 2000}})
    assert guard.org == ApiUsage(13000, 15000)
    assert not guard.needs_limits
    with pytest.raises(QuotaStop):
        guard.check()


def test_limits_body_without_daily_requests_is_ignored() -> None:
    assert usage_from_limits({"DataStorageMB": {"Max": 5, "Remaining": 5}}) is None
