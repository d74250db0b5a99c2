"""Analytics on the wire. Money rounded to cents, rates as fractions (docs/metrics.md)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from salescoach_api.scorecards.schemas import PeriodPublic
from salescoach_api.types import CENT, RATE_PLACES, Days, FractionalCount, Money, Rate, RequestModel
from salescoach_core.analytics.conversion import ConversionReport, StageCounts
from salescoach_core.analytics.loss import LossAnalysis
from salescoach_core.analytics.pipeline import PipelineHealth, Tally
from salescoach_core.analytics.trend import TREND_METRICS, MetricKind, TrendPoint
from salescoach_core.analytics.whatif import Change, ChangeKind, Drivers, WhatIf

# --- loss analysis


class LossStagePublic(BaseModel):
    stage: str | None = Field(description="The loss stage (API name); null when unknown.")
    is_open_stage: bool = Field(description="An active, open stage (false for inactive names and unknown).")
    early: bool | None = Field(description="In the first half of the open stages; null when not open.")
    count: int
    amount: Money


class LossAnalysisPublic(BaseModel):
    rep_id: str
    period: PeriodPublic
    lost_count: int
    lost_amount: Money
    by_stage: list[LossStagePublic] = Field(
        description="Open stages in SortOrder (zeros included), then other stage names, then unknown."
    )
    mean_days_to_loss: Days | None = Field(
        description="Mean of CloseDate - date(CreatedDate) over the lost opportunities; null without one."
    )
    early_loss_share: Rate | None = Field(
        description="Losses at an early stage / losses at any open stage; null when there are none."
    )
    early_stages: list[str] = Field(description="The first floor(n/2) open stages.")

    @classmethod
    def of(cls, rep_id: str, period: PeriodPublic, analysis: LossAnalysis) -> LossAnalysisPublic:
        return cls(
            rep_id=rep_id,
            period=period,
            lost_count=analysis.lost_count,
            lost_amount=analysis.lost_amount,
            by_stage=[
                LossStagePublic(
                    stage=b.stage,
                    is_open_stage=b.is_open_stage,
                    early=b.early,
                    count=b.count,
                    amount=b.amount,
                )
                for b in analysis.by_stage
            ],
            mean_days_to_loss=analysis.mean_days_to_loss,
            early_loss_share=analysis.early_loss_share,
            early_stages=analysis.early_stages,
        )


# --- stage conversion


class ConversionFigures(BaseModel):
    entered: int = Field(description="Opportunities that first entered the stage within the period.")
    left: int = Field(description="Of those, the ones no longer in it.")
    converted: int = Field(description="Of those that left, the ones that reached a later open or won stage.")
    conversion: Rate | None = Field(description="converted / left; null when none left.")
    mean_days_in_stage: Days | None = Field(
        description="Days spent in the stage (every visit) per opportunity that left it; null when none left."
    )

    @classmethod
    def of(cls, counts: StageCounts) -> ConversionFigures:
        return cls(
            entered=counts.entered,
            left=counts.left,
            converted=counts.converted,
            conversion=counts.conversion,
            mean_days_in_stage=counts.mean_days,
        )


class StageConversionPublic(BaseModel):
    stage: str
    rep: ConversionFigures
    team: ConversionFigures | None = Field(description="The rep's team (rep included); null without one.")
    shortfall: Rate | None = Field(
        description="Team conversion minus the rep's (may be negative: the rep does better)."
    )


class StageConversionReport(BaseModel):
    rep_id: str
    manager_id: str | None
    team_size: int
    period: PeriodPublic
    stages: list[StageConversionPublic] = Field(description="Open stages in SortOrder.")
    chokepoint: str | None = Field(
        description="The stage with the largest positive shortfall among those the rep left at least "
        "SALESCOACH_CHOKEPOINT_MIN_OPPORTUNITIES times; null when none qualifies."
    )
    min_opportunities: int

    @classmethod
    def of(
        cls,
        *,
        rep_id: str,
        manager_id: str | None,
        period: PeriodPublic,
        report: ConversionReport,
        min_opportunities: int,
    ) -> StageConversionReport:
        return cls(
            rep_id=rep_id,
            manager_id=manager_id,
            team_size=report.team_size,
            period=period,
            stages=[
                StageConversionPublic(
                    stage=s.stage,
                    rep=ConversionFigures.of(s.rep),
                    team=ConversionFigures.of(s.team) if s.team is not None else None,
                    shortfall=s.shortfall,
                )
                for s in report.stages
            ],
            chokepoint=report.chokepoint,
            min_opportunities=min_opportunities,
        )


# --- pipeline


class TallyPublic(BaseModel):
    count: int
    amount: Money

    @classmethod
    def of(cls, tally: Tally) -> TallyPublic:
        return cls(count=tally.count, amount=tally.amount)


class CoveragePublic(BaseModel):
    period: PeriodPublic = Field(description="The next calendar month after the as-of date's.")
    open_amount: Money = Field(description="Open amount with CloseDate in that month.")
    quota: Money | None
    won_amount: Money = Field(description="Won amount already closing in that month.")
    quota_remaining: Money | None = Field(description="quota - won_amount; null without quota.")
    coverage: Rate | None = Field(
        description="open_amount / quota_remaining (may exceed 1); null without quota or when "
        "nothing remains to cover. Served to 4 decimal places."
    )


class PipelinePublic(BaseModel):
    rep_id: str
    as_of: date
    timezone: str
    open: TallyPublic
    stale: TallyPublic
    past_due: TallyPublic
    coverage: CoveragePublic
    stale_days: int
    stale_activity_days: int

    @classmethod
    def of(
        cls, rep_id: str, health: PipelineHealth, *, timezone: str, stale_days: int, stale_activity_days: int
    ) -> PipelinePublic:
        cover = health.coverage
        return cls(
            rep_id=rep_id,
            as_of=health.as_of,
            timezone=timezone,
            open=TallyPublic.of(health.open),
            stale=TallyPublic.of(health.stale),
            past_due=TallyPublic.of(health.past_due),
            coverage=CoveragePublic(
                period=PeriodPublic.of(cover.period, timezone),
                open_amount=cover.open_amount,
                quota=cover.quota,
                won_amount=cover.won_amount,
                quota_remaining=cover.quota_remaining,
                coverage=cover.ratio,
            ),
            stale_days=stale_days,
            stale_activity_days=stale_activity_days,
        )


# --- what-if


class ChangeRequest(RequestModel):
    """`add` adds `value` to the baseline (negative lowers it); `set` makes the lever `value`;
    `scale` multiplies the baseline by `value` (1.2: 20% more; 0.9: 10% less)."""

    model_config = ConfigDict(extra="forbid")

    kind: ChangeKind
    value: Annotated[Decimal, Field(allow_inf_nan=False, ge=-1_000_000_000, le=1_000_000_000)]

    def to_change(self) -> Change:
        return Change(kind=self.kind, value=self.value)


class Changes(RequestModel):
    model_config = ConfigDict(extra="forbid")

    monthly_starts: ChangeRequest | None = None
    avg_deal_size: ChangeRequest | None = None
    win_rate: ChangeRequest | None = Field(
        default=None, description="A fraction: `add` 0.05 is five points, `set` 0.3 is 30%."
    )
    sales_cycle_days: ChangeRequest | None = None


class WhatIfRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    changes: Changes = Field(
        examples=[
            {"monthly_starts": {"kind": "add", "value": 2}, "win_rate": {"kind": "scale", "value": 1.1}}
        ],
        description="Any of the four levers; the others keep their baseline value.",
    )

    def domain_changes(self) -> dict[str, Change]:
        return {
            lever: change.to_change()
            for lever in Changes.model_fields
            if (change := getattr(self.changes, lever)) is not None
        }


class DriversPublic(BaseModel):
    """The four levers of the rep's bookings over `baseline_period` (baseline), or after the
    changes (projected)."""

    monthly_starts: FractionalCount | None = Field(
        description="Opportunities started per month: opportunity_starts over the baseline period "
        "divided by its number of months (an average, not a number of days)."
    )
    avg_deal_size: Money | None = Field(description="won_amount / won_count; null without a win.")
    win_rate: Rate | None = Field(
        description="won_count / (won_count + lost_count); null when nothing closed."
    )
    sales_cycle_days: Days | None = Field(
        description="Mean days from creation to close of the won opportunities; null without a win."
    )
    monthly_bookings: Money | None = Field(
        description="monthly_starts * avg_deal_size * win_rate; null when any of them is."
    )

    @classmethod
    def of(cls, drivers: Drivers) -> DriversPublic:
        return cls(
            monthly_starts=drivers.monthly_starts,
            avg_deal_size=drivers.avg_deal_size,
            win_rate=drivers.win_rate,
            sales_cycle_days=drivers.sales_cycle_days,
            monthly_bookings=drivers.monthly_bookings,
        )


class WhatIfPublic(BaseModel):
    rep_id: str
    baseline_period: PeriodPublic = Field(
        description="The trailing full months before the current one (SALESCOACH_WHATIF_BASELINE_MONTHS)."
    )
    baseline: DriversPublic
    projected: DriversPublic
    monthly_difference: Money | None = Field(description="Projected minus baseline monthly bookings.")
    quarterly_difference: Money | None = Field(description="3 x monthly_difference.")
    quota_period: PeriodPublic = Field(
        description="The current month, whose quota both attainments are measured against."
    )
    monthly_quota: Money | None = Field(
        description="The rep's quota for quota_period; null when none is set."
    )
    baseline_attainment: Rate | None = Field(
        description="Baseline monthly bookings / monthly_quota (not the scorecard's attainment, which is "
        "won_amount / quota); null without a quota."
    )
    projected_attainment: Rate | None = Field(
        description="Projected monthly bookings / monthly_quota; null without a quota."
    )
    lag_days: Days | None = Field(
        description="Days before the change shows in bookings: the projected sales_cycle_days."
    )

    @classmethod
    def of(cls, rep_id: str, result: WhatIf, timezone: str) -> WhatIfPublic:
        return cls(
            rep_id=rep_id,
            baseline_period=PeriodPublic.of(result.baseline_period, timezone),
            baseline=DriversPublic.of(result.baseline),
            projected=DriversPublic.of(result.projected),
            monthly_difference=result.monthly_difference,
            quarterly_difference=result.quarterly_difference,
            quota_period=PeriodPublic.of(result.quota_period, timezone),
            monthly_quota=result.monthly_quota,
            baseline_attainment=result.baseline_attainment,
            projected_attainment=result.projected_attainment,
            lag_days=result.lag_days,
        )


# --- trend

TrendMetric = Literal[
    "opportunity_starts",
    "dollars_in_starts",
    "won_count",
    "won_amount",
    "lost_count",
    "win_rate",
    "avg_deal_size",
    "sales_cycle_days",
    "sales_velocity_per_day",
    "quota",
    "attainment",
    "pace",
    "calls",
    "emails",
    "meetings",
    "other_tasks",
    "process_to_requirement",
    "willingness_to_change",
]

_PLACES: dict[MetricKind, Decimal] = {"money": CENT, "days": CENT, "rate": RATE_PLACES}


def _served(value: Decimal | int | None, kind: MetricKind) -> float | int | None:
    if value is None or kind == "count":
        return value if not isinstance(value, Decimal) else int(value)
    return float(Decimal(value).quantize(_PLACES[kind], rounding=ROUND_HALF_EVEN))


class TrendPointPublic(BaseModel):
    period: PeriodPublic
    value: float | int | None


class TrendPublic(BaseModel):
    rep_id: str
    metric: TrendMetric
    kind: MetricKind = Field(description="count, money (cents), rate (4 places) or days (2 places).")
    grain: Literal["month"]
    period: PeriodPublic = Field(description="The period asked for: the points are its months.")
    points: list[TrendPointPublic] = Field(
        description="One per month the period spans; a month it cuts is a range over its part."
    )

    @classmethod
    def of(
        cls, rep_id: str, metric: TrendMetric, period: PeriodPublic, points: list[TrendPoint], timezone: str
    ) -> TrendPublic:
        kind = TREND_METRICS[metric]
        return cls(
            rep_id=rep_id,
            metric=metric,
            kind=kind,
            grain="month",
            period=period,
            points=[
                TrendPointPublic(period=PeriodPublic.of(p.period, timezone), value=_served(p.value, kind))
                for p in points
            ],
        )
