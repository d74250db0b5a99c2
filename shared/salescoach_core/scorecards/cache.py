"""Team reports cached per data version, so repeated reads of a team's scorecards cost one small
query instead of six aggregates.

A report depends on the synced tables, the quotas, the activity requirements and the action
items (willingness), and, for a period still running, on the clock (pace). The key holds the
latest change instant of each of those sources and, for a running period, the current minute:
a change makes a new key, and pace is at most a minute old. A finished period's figures do not
depend on the clock at all. Each API process keeps its own cache; the key makes them agree.

Change instants are taken when a transaction writes, not when it commits, so a long write that
commits after a later, shorter one could leave the newest instant unchanged. Entries therefore
also expire after `SALESCOACH_SCORECARD_CACHE_SECONDS`, which bounds that staleness.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import TypeVar, cast

from cachetools import TTLCache
from sqlalchemy import text
from sqlmodel import Session

from salescoach_core.models import SfUser
from salescoach_core.periods import Period
from salescoach_core.scorecards.config import ScorecardConfig
from salescoach_core.scorecards.metrics import RepScorecard
from salescoach_core.scorecards.service import TeamReport, rep_scorecard, team_report

T = TypeVar("T")
_MISSING = object()

# Each max() reads one end of an index; the whole statement is one round trip.
_DATA_VERSION = text(
    """
    SELECT (SELECT max(last_success_at) FROM sync_state),
           (SELECT max(updated_at) FROM quota),
           (SELECT max(updated_at) FROM activity_requirement),
           (SELECT count(*) FROM activity_requirement),
           (SELECT max(updated_at) FROM action_item)
    """
)


def data_version(session: Session) -> tuple[Hashable, ...]:
    row = session.execute(_DATA_VERSION).one()
    return tuple(row)


class TeamReportCache:
    """An LRU of computed results keyed by what they were computed from. Thread-safe; a compute
    runs outside the lock, so two first readers may both compute (the same result)."""

    def __init__(self, ttl_seconds: float, maxsize: int = 512) -> None:
        self._enabled = ttl_seconds > 0
        self._entries: TTLCache[Hashable, object] = TTLCache(maxsize=maxsize, ttl=max(ttl_seconds, 1))
        self._lock = threading.Lock()

    def memo(
        self,
        session: Session,
        key: tuple[Hashable, ...],
        *,
        period: Period,
        config: ScorecardConfig,
        now: datetime,
        compute: Callable[[], T],
    ) -> T:
        """`compute()`'s result for `key` over `period`, reused while the data and clock allow."""
        if not self._enabled:
            return compute()
        full_key = (*key, period, config, _clock(period, config, now), data_version(session))
        with self._lock:
            cached = self._entries.get(full_key, _MISSING)
        if cached is not _MISSING:
            return cast(T, cached)
        value = compute()
        with self._lock:
            self._entries[full_key] = value
        return value

    def team_report(
        self,
        session: Session,
        *,
        manager_id: str,
        whole_org: bool,
        period: Period,
        config: ScorecardConfig,
        now: datetime,
    ) -> TeamReport:
        return self.memo(
            session,
            ("team_report", manager_id, whole_org),
            period=period,
            config=config,
            now=now,
            compute=lambda: team_report(
                session, manager_id=manager_id, whole_org=whole_org, period=period, config=config, now=now
            ),
        )

    def rep_scorecard(
        self, session: Session, *, rep: SfUser, period: Period, config: ScorecardConfig, now: datetime
    ) -> RepScorecard:
        """The rep's card from their team's cached report (a rep without a team has no report)."""
        if rep.manager_id is not None:
            report = self.team_report(
                session, manager_id=rep.manager_id, whole_org=False, period=period, config=config, now=now
            )
            for card in report.cards:
                if card.rep_id == rep.id:
                    return card
        return rep_scorecard(session, rep=rep, period=period, config=config, now=now)


def _clock(period: Period, config: ScorecardConfig, now: datetime) -> datetime | None:
    """None once the period has ended (its figures no longer move), else the current minute."""
    if now >= period.instants(config.zone)[1]:
        return None
    return now.replace(second=0, microsecond=0)
