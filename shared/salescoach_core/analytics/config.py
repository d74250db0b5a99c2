"""The analytics thresholds, from Settings (every one configurable; docs/configuration.md)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from salescoach_core.settings import Settings


@dataclass(frozen=True)
class AnalyticsConfig:
    zone: ZoneInfo
    stale_days: int
    stale_activity_days: int
    whatif_baseline_months: int
    chokepoint_min_opportunities: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AnalyticsConfig:
        return cls(
            zone=ZoneInfo(settings.org_timezone),
            stale_days=settings.stale_days,
            stale_activity_days=settings.stale_activity_days,
            whatif_baseline_months=settings.whatif_baseline_months,
            chokepoint_min_opportunities=settings.chokepoint_min_opportunities,
        )
