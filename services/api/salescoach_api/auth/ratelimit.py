"""Per-principal rate limiting counted by every API process together: in PostgreSQL by default,
or in a `limits` storage (Redis) named by SALESCOACH_RATE_LIMIT_STORAGE (docs/auth.md, "Rate limits").
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from contextlib import suppress

from limits import RateLimitItemPerMinute
from limits.errors import ConfigurationError, StorageError
from limits.storage import SlidingWindowCounterSupport, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import Connection, text

from salescoach_api.auth.errors import RateLimitedError, RateLimitStoreUnavailableError
from salescoach_core.access import Principal
from salescoach_core.database import Database
from salescoach_core.settings import Settings

WINDOW_SECONDS = 60

# One statement, so the count is right whichever process and however many at once: the row of
# this principal's current minute (by the database's clock, which every replica shares) is
# created or incremented under its row lock, and the new count comes back.
_HIT = text(
    """
    INSERT INTO rate_limit_window AS w (principal, window_start, hits)
    VALUES (:principal, date_trunc('minute', statement_timestamp()), 1)
    ON CONFLICT (principal, window_start) DO UPDATE SET hits = w.hits + 1
    RETURNING w.hits,
              extract(epoch FROM w.window_start + interval '1 minute' - statement_timestamp())
    """
)
_PRUNE = text(
    "DELETE FROM rate_limit_window WHERE window_start < date_trunc('minute', statement_timestamp())"
)


class RateLimiter(ABC):
    """`per_minute` requests per principal; 0 disables it. `check` counts one request."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute

    def check(self, principal: Principal) -> None:
        """Count one request; raise RateLimitedError, with the seconds to wait, when over."""
        if self.per_minute <= 0:
            return
        retry_after = self._hit(f"{principal.kind}:{principal.subject}")
        if retry_after is not None:
            raise RateLimitedError(
                f"More than {self.per_minute} requests a minute for this credential; "
                f"retry in {retry_after} s.",
                retry_after_seconds=retry_after,
            )

    @abstractmethod
    def _hit(self, key: str) -> int | None:
        """Count a request of `key`: None when allowed, else the whole seconds to wait (>= 1)."""


class DatabaseRateLimiter(RateLimiter):
    """At most `per_minute` requests per principal in each minute of the database's clock (a
    fixed window), counted in the `rate_limit_window` table on the autocommit pool."""

    def __init__(self, per_minute: int, database: Database) -> None:
        super().__init__(per_minute)
        self._database = database
        self._pruned_at = float("-inf")
        self._prune_lock = threading.Lock()

    def _hit(self, key: str) -> int | None:
        with self._database.autocommit_engine().connect() as conn:
            hits, seconds_left = conn.execute(_HIT, {"principal": key}).one()
            self._prune_now_and_then(conn)
        if hits <= self.per_minute:
            return None
        return max(1, math.ceil(float(seconds_left)))

    def _prune_now_and_then(self, conn: Connection) -> None:
        # Past minutes are never read again; each process drops them about once a minute.
        with self._prune_lock:
            due = time.monotonic() - self._pruned_at >= WINDOW_SECONDS
            if due:
                self._pruned_at = time.monotonic()
        if due:
            conn.execute(_PRUNE)


class StorageRateLimiter(RateLimiter):
    """`per_minute` requests per principal in any minute (the `limits` sliding window counter),
    counted in the storage at `uri` (redis://...)."""

    def __init__(self, per_minute: int, uri: str) -> None:
        super().__init__(per_minute)
        self._item = RateLimitItemPerMinute(max(per_minute, 1))
        scheme = uri.partition("://")[0]
        storage = None
        # memory:// would count in each process again, N replicas allowing N times the limit.
        if scheme != "memory":
            # The message of `limits` repeats the URI, which may hold a password: ours below does not.
            with suppress(ConfigurationError):
                storage = storage_from_string(uri, wrap_exceptions=True)
        if not isinstance(storage, Storage) or not isinstance(storage, SlidingWindowCounterSupport):
            raise ValueError(
                f"SALESCOACH_RATE_LIMIT_STORAGE: {scheme!r} is not a storage of the `limits` library "
                "that API processes can share; unset it to count in PostgreSQL, or name one such as "
                "redis://host:6379/0."
            )
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    def _hit(self, key: str) -> int | None:
        try:
            if self._limiter.hit(self._item, key):
                return None
            reset_at = self._limiter.get_window_stats(self._item, key).reset_time
        except StorageError as exc:
            raise RateLimitStoreUnavailableError(
                "The rate limit store (SALESCOACH_RATE_LIMIT_STORAGE) does not answer; retry shortly."
            ) from exc
        return max(1, math.ceil(reset_at - time.time()))


def rate_limiter(settings: Settings, database: Database) -> RateLimiter:
    """The limiter the settings ask for: PostgreSQL unless a `limits` storage is named."""
    if settings.rate_limit_storage is None:
        return DatabaseRateLimiter(settings.rate_limit_per_minute, database)
    return StorageRateLimiter(settings.rate_limit_per_minute, settings.rate_limit_storage.get_secret_value())
