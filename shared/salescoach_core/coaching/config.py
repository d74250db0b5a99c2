"""The coaching rules' configuration, from Settings (docs/configuration.md, "Coaching")."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from salescoach_core.analytics.config import AnalyticsConfig
from salescoach_core.scorecards.config import ScorecardConfig
from salescoach_core.settings import Settings


@dataclass(frozen=True)
class CoachingConfig:
    scorecard: ScorecardConfig
    analytics: AnalyticsConfig
    goal_limit: int
    consequence_after: int
    willingness_threshold: Decimal
    plan_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> CoachingConfig:
        return cls(
            scorecard=ScorecardConfig.from_settings(settings),
            analytics=AnalyticsConfig.from_settings(settings),
            goal_limit=settings.goal_limit_per_period,
            consequence_after=settings.consequence_after_missed_sessions,
            willingness_threshold=Decimal(str(settings.diagnosis_willingness_threshold)),
            plan_days=settings.plan_days,
        )
