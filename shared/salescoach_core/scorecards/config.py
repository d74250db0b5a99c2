"""The thresholds and classifications behind the scorecard, from Settings (all configurable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from salescoach_core.periods import Period
from salescoach_core.settings import Settings

SEGMENTS = ("poor", "low_core", "core", "high_core", "star")
# Why a scorecard has no segment: no quota to pace against, or a running period still too young.
SEGMENT_REASONS = ("no_quota", "too_early")


@dataclass(frozen=True)
class ScorecardConfig:
    zone: ZoneInfo
    segment_thresholds: tuple[Decimal, Decimal, Decimal, Decimal]
    call_subtypes: tuple[str, ...]
    call_types: tuple[str, ...]
    email_subtypes: tuple[str, ...]
    willingness_window_days: int
    min_elapsed_working_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ScorecardConfig:
        low, core, high, star = (Decimal(str(t)) for t in settings.segment_thresholds)
        return cls(
            zone=ZoneInfo(settings.org_timezone),
            segment_thresholds=(low, core, high, star),
            call_subtypes=tuple(settings.activity_call_subtypes),
            call_types=tuple(settings.activity_call_types),
            email_subtypes=tuple(settings.activity_email_subtypes),
            willingness_window_days=settings.willingness_window_days,
            min_elapsed_working_days=settings.min_elapsed_working_days,
        )

    def too_early(self, period: Period, now: datetime) -> bool:
        """A running period with fewer working days behind it than the minimum: one deal, or a
        slow Monday, would decide a verdict that the rest of the period has not had time to earn."""
        return (
            period.is_running(now, self.zone)
            and period.elapsed_working_days(now, self.zone) < self.min_elapsed_working_days
        )

    def segment(self, pace: Decimal | None) -> str | None:
        """Poor < t0 <= Low Core < t1 <= Core < t2 <= High Core < t3 <= Star; None without pace."""
        if pace is None:
            return None
        for name, threshold in zip(SEGMENTS, self.segment_thresholds, strict=False):
            if pace < threshold:
                return name
        return SEGMENTS[-1]
