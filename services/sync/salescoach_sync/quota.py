"""The API quota guard: usage read from `Sforce-Limit-Info` (or `/limits`), and the stop rule.

Salesforce documents three header forms, and real responses combine them:
``api-usage=18/5000``, ``api-usage=10018/100000; api-bursts=1/750`` and
``per-app-api-usage=17/250(appName=sample-app)``. The parser looks for each key anywhere in
the value instead of anchoring a pattern (tap-salesforce's anchored regex never matched the
second form, so its guard silently did nothing).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from salescoach_sync.errors import QuotaStop

_USAGE_RE = re.compile(
    r"(?<![\w-])(?P<key>[a-z][a-z-]*)\s*=\s*(?P<used>\d+)\s*/\s*(?P<limit>\d+)"
    r"(?:\s*\(\s*appName\s*=\s*(?P<app>[^)]*)\))?",
    re.IGNORECASE,
)
# Without a fresh figure for this many calls, ask `/limits` (the header should be on every
# REST response; a proxy that strips it must not switch the guard off).
STALE_AFTER_CALLS = 100
# Once stopped, a long-running worker asks `/limits` again after this long: the rolling
# 24-hour count falls, and the guard must notice without making the calls it forbids.
RECHECK_SECONDS = 300.0


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int
    app_name: str | None = None

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit > 0 else 1.0


@dataclass(frozen=True)
class LimitInfo:
    """What one `Sforce-Limit-Info` value says: the org's usage and, when set, the app's."""

    org: ApiUsage | None = None
    per_app: ApiUsage | None = None


def parse_limit_info(value: str | None) -> LimitInfo:
    """Parse any documented form; unknown parts (`api-bursts`) and garbage are ignored."""
    org: ApiUsage | None = None
    per_app: ApiUsage | None = None
    for match in _USAGE_RE.finditer(value or ""):
        key = match["key"].lower()
        usage = ApiUsage(int(match["used"]), int(match["limit"]), (match["app"] or "").strip() or None)
        if key == "api-usage":
            org = usage
        elif key == "per-app-api-usage":
            per_app = usage
    return LimitInfo(org=org, per_app=per_app)


def usage_from_limits(body: Any) -> ApiUsage | None:
    """The org's usage from a `/limits` body (`DailyApiRequests: {Max, Remaining}`)."""
    try:
        daily = body["DailyApiRequests"]
        limit = int(daily["Max"])
        return ApiUsage(limit - int(daily["Remaining"]), limit)
    except (KeyError, TypeError, ValueError):
        return None


class QuotaGuard:
    """Holds the latest usage figures and refuses further calls past `share` of a limit.
    Shared by the clients of a pass's threads."""

    def __init__(self, share: float) -> None:
        self._lock = threading.Lock()
        self.share = share
        self.org: ApiUsage | None = None
        self.per_app: ApiUsage | None = None
        self._calls_since_figure = 0
        self._figure_at = 0.0

    def observe_header(self, value: str | None) -> None:
        info = parse_limit_info(value)
        with self._lock:
            self._calls_since_figure += 1
            if info.org is not None:
                self.org = info.org
                self._calls_since_figure = 0
                self._figure_at = time.monotonic()
            if info.per_app is not None:
                self.per_app = info.per_app

    def observe_limits(self, body: Any) -> None:
        usage = usage_from_limits(body)
        if usage is not None:
            with self._lock:
                self.org = usage
                self._calls_since_figure = 0
                self._figure_at = time.monotonic()

    @property
    def exceeded(self) -> bool:
        return any(u is not None and u.share >= self.share for u in (self.org, self.per_app))

    @property
    def needs_limits(self) -> bool:
        """True when responses came back without a usable header for a while, or when the
        guard has been stopping calls on a figure that is getting old."""
        if self.exceeded:
            return time.monotonic() - self._figure_at >= RECHECK_SECONDS
        return self._calls_since_figure >= (1 if self.org is None else STALE_AFTER_CALLS)

    def check(self) -> None:
        """Raise QuotaStop when the org's (or this app's) usage has reached the share."""
        for scope, usage in (("org", self.org), ("connected app", self.per_app)):
            if usage is not None and usage.share >= self.share:
                app = f" ({usage.app_name})" if usage.app_name else ""
                raise QuotaStop(
                    f"API quota guard: the {scope}{app} has used {usage.used:,} of {usage.limit:,} "
                    f"daily API requests ({usage.share:.0%}), at or above SALESCOACH_SYNC_QUOTA_SHARE="
                    f"{self.share:g}. Stopped cleanly; checkpoints are kept. Run again once usage "
                    "falls (Salesforce counts a rolling 24 hours), or raise the share."
                )
