"""Per-principal rate limiting with the `limits` library, counted in this process's memory.

In memory because the API keeps no state outside PostgreSQL and a counter write per request
would cost more than the requests it protects; with N replicas the effective limit is N times
the setting (docs/auth.md, "Rate limits").
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from salescoach_api.auth.errors import RateLimitedError
from salescoach_core.access import Principal


class RateLimiter:
    """`per_minute` requests per principal in any minute (sliding window); 0 disables it."""

    def __init__(self, per_minute: int) -> None:
        self._item = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def check(self, principal: Principal) -> None:
        """Count one request; raise RateLimitedError, with the seconds to wait, when over."""
        if self._item is None:
            return
        key = f"{principal.kind}:{principal.subject}"
        if self._limiter.hit(self._item, key):
            return
        reset_at = self._limiter.get_window_stats(self._item, key).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimitedError(
            f"More than {self._item.amount} requests a minute for this credential; retry in {retry_after} s.",
            retry_after_seconds=retry_after,
        )
