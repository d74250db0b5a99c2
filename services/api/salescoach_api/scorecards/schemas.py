"""Scorecards on the wire: every metric of docs/domain.md under exactly its name there."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from salescoach_api.types import Days, FractionalCount, Money, Rate
from salescoach_core.periods import Period
from salescoach_core.scorecards.metrics import Metrics, RepScorecard


class PeriodPublic(BaseModel):
    label: str = Field(examples=["2026-Q4"])
    kind: Literal["month", "quarter", "range"]
    from_: date = Field(alias="from", description="First day, inclusive.")
    to: date = Field(description="Day after the last, exclusive: the period is [from, to).")
    timezone: str

    model_config = {"populate_by_name": True}

    @classmethod
    def of(cls, period: Period, timezone: str) -> PeriodPublic:
        return cls(label=period.label, kind=period.kind, from_=period.start, to=period.end, timezone=timezone)


class ProcessComponent(BaseModel):
    activity: Literal["calls", "emails", "meetings"]
    actual: int = Field(description="Activities of this kind completed in the period.")
    required: FractionalCount = Field(
        description="Activities required: the weekly requirement * days in the period / 7."
    )
    ratio: Rate = Field(description="actual / required.")


class MetricsPublic(BaseModel):
    opportunity_starts: int
    dollars_in_starts: Money
    won_count: int
    won_amount: Money
    lost_count: int
    win_rate: Rate | None
    avg_deal_size: Money | None
    sales_cycle_days: Days | None
    sales_velocity_per_day: Money | None = Field(
        description="Dollars per day: opportunity_starts * avg_deal_size * win_rate / sales_cycle_days; "
        "null when any factor is null or the cycle is 0."
    )
    quota: Money | None
    attainment: Rate | None
    pace: Rate | None
    calls: int
    emails: int
    meetings: int
    other_tasks: int
    process_to_requirement: Rate | None
    process_to_requirement_components: list[ProcessComponent]
    willingness_to_change: Rate | None
    segment: Literal["poor", "low_core", "core", "high_core", "star"] | None
    segment_reason: Literal["no_quota", "too_early"] | None = Field(
        description="Why `segment` is null (null when there is a segment): `no_quota`, or `too_early` "
        "while a running period has fewer than `SALESCOACH_MIN_ELAPSED_WORKING_DAYS` (5) working days "
        'behind it (docs/scorecards.md, "Too early").'
    )

    @classmethod
    def of(cls, metrics: Metrics) -> MetricsPublic:
        return cls(
            opportunity_starts=metrics.opportunity_starts,
            dollars_in_starts=metrics.dollars_in_starts,
            won_count=metrics.won_count,
            won_amount=metrics.won_amount,
            lost_count=metrics.lost_count,
            win_rate=metrics.win_rate,
            avg_deal_size=metrics.avg_deal_size,
            sales_cycle_days=metrics.sales_cycle_days,
            sales_velocity_per_day=metrics.sales_velocity_per_day,
            quota=metrics.quota,
            attainment=metrics.attainment,
            pace=metrics.pace,
            calls=metrics.calls,
            emails=metrics.emails,
            meetings=metrics.meetings,
            other_tasks=metrics.other_tasks,
            process_to_requirement=metrics.process_to_requirement,
            process_to_requirement_components=[
                ProcessComponent(activity=c.activity, actual=c.actual, required=c.required, ratio=c.ratio)
                for c in metrics.process_components
            ],
            willingness_to_change=metrics.willingness_to_change,
            segment=metrics.segment,
            segment_reason=metrics.segment_reason,
        )


class ScorecardPublic(MetricsPublic):
    rep_id: str
    rep_name: str | None
    manager_id: str | None
    rank: int | None = Field(description="Position in the team's stack rank; null for a rep without a team.")
    period: PeriodPublic
    data_as_of: datetime | None = Field(
        description="The oldest of the latest successful syncs of the objects these figures read: "
        "the figures hold everything up to then; null until each has synced once."
    )

    @classmethod
    def of_card(
        cls, card: RepScorecard, *, period: PeriodPublic, data_as_of: datetime | None
    ) -> ScorecardPublic:
        return cls(
            rep_id=card.rep_id,
            rep_name=card.name,
            manager_id=card.manager_id,
            rank=card.rank,
            period=period,
            data_as_of=data_as_of,
            **MetricsPublic.of(card.metrics).model_dump(),
        )


class TeamScorecards(BaseModel):
    manager_id: str
    scope: Literal["team", "org"]
    period: PeriodPublic
    data_as_of: datetime | None
    scorecards: list[ScorecardPublic] = Field(description="In stack-rank order.")
    totals: MetricsPublic = Field(
        description="The team as one: sums, and rates computed from the sums (not averages of rates)."
    )
    segment_distribution: dict[str, int] = Field(
        description="Reps per segment; `none` without one (see `segment_reason`)."
    )
