"""From per-rep aggregates to the scorecard metrics of docs/domain.md. Pure functions, Decimal only."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from salescoach_core.periods import Period
from salescoach_core.scorecards.config import SEGMENTS, ScorecardConfig

ZERO = Decimal(0)


@dataclass(frozen=True)
class Requirement:
    """Weekly activity requirements in force for a rep (None: no requirement for that activity)."""

    calls_per_week: Decimal | None = None
    emails_per_week: Decimal | None = None
    meetings_per_week: Decimal | None = None


@dataclass(frozen=True)
class Figures:
    """What the database adds up for one rep (or a team) over one period."""

    opportunity_starts: int = 0
    dollars_in_starts: Decimal = ZERO
    won_count: int = 0
    won_amount: Decimal = ZERO
    lost_count: int = 0
    won_with_cycle: int = 0
    cycle_days_total: int = 0
    calls: int = 0
    emails: int = 0
    meetings: int = 0
    other_tasks: int = 0
    quota: Decimal | None = None
    commitments_due: int = 0
    commitments_kept: int = 0

    def __add__(self, other: Figures) -> Figures:
        quota = None
        if self.quota is not None or other.quota is not None:
            quota = (self.quota or ZERO) + (other.quota or ZERO)
        return Figures(
            opportunity_starts=self.opportunity_starts + other.opportunity_starts,
            dollars_in_starts=self.dollars_in_starts + other.dollars_in_starts,
            won_count=self.won_count + other.won_count,
            won_amount=self.won_amount + other.won_amount,
            lost_count=self.lost_count + other.lost_count,
            won_with_cycle=self.won_with_cycle + other.won_with_cycle,
            cycle_days_total=self.cycle_days_total + other.cycle_days_total,
            calls=self.calls + other.calls,
            emails=self.emails + other.emails,
            meetings=self.meetings + other.meetings,
            other_tasks=self.other_tasks + other.other_tasks,
            quota=quota,
            commitments_due=self.commitments_due + other.commitments_due,
            commitments_kept=self.commitments_kept + other.commitments_kept,
        )


@dataclass(frozen=True)
class RequirementComponent:
    activity: str
    actual: int
    required: Decimal
    ratio: Decimal


@dataclass(frozen=True)
class Metrics:
    """Every scorecard metric, named exactly as in docs/domain.md."""

    opportunity_starts: int
    dollars_in_starts: Decimal
    won_count: int
    won_amount: Decimal
    lost_count: int
    win_rate: Decimal | None
    avg_deal_size: Decimal | None
    sales_cycle_days: Decimal | None
    sales_velocity_per_day: Decimal | None
    quota: Decimal | None
    attainment: Decimal | None
    pace: Decimal | None
    calls: int
    emails: int
    meetings: int
    other_tasks: int
    process_to_requirement: Decimal | None
    process_components: list[RequirementComponent] = field(default_factory=list)
    willingness_to_change: Decimal | None = None
    segment: str | None = None
    segment_reason: str | None = None
    """Why `segment` is None: `no_quota` or `too_early` (scorecards/config.py, SEGMENT_REASONS)."""


@dataclass(frozen=True)
class RepScorecard:
    rep_id: str
    name: str | None
    manager_id: str | None
    figures: Figures
    metrics: Metrics
    rank: int | None = None


def derive(
    figures: Figures,
    *,
    period: Period,
    now: datetime,
    config: ScorecardConfig,
    requirement: Requirement | None,
) -> Metrics:
    decided = figures.won_count + figures.lost_count
    win_rate = Decimal(figures.won_count) / decided if decided else None
    avg_deal_size = figures.won_amount / figures.won_count if figures.won_count else None
    sales_cycle_days = (
        Decimal(figures.cycle_days_total) / figures.won_with_cycle if figures.won_with_cycle else None
    )
    velocity = None
    if avg_deal_size is not None and win_rate is not None and sales_cycle_days:
        velocity = figures.opportunity_starts * avg_deal_size * win_rate / sales_cycle_days
    attainment = figures.won_amount / figures.quota if figures.quota else None
    pace = _pace(attainment, period=period, now=now, config=config)
    components = _components(figures, period=period, requirement=requirement)
    process = sum((c.ratio for c in components), ZERO) / len(components) if components else None
    willingness = (
        Decimal(figures.commitments_kept) / figures.commitments_due if figures.commitments_due else None
    )
    segment, segment_reason = _segment(pace, quota=figures.quota, period=period, now=now, config=config)
    return Metrics(
        opportunity_starts=figures.opportunity_starts,
        dollars_in_starts=figures.dollars_in_starts,
        won_count=figures.won_count,
        won_amount=figures.won_amount,
        lost_count=figures.lost_count,
        win_rate=win_rate,
        avg_deal_size=avg_deal_size,
        sales_cycle_days=sales_cycle_days,
        sales_velocity_per_day=velocity,
        quota=figures.quota,
        attainment=attainment,
        pace=pace,
        calls=figures.calls,
        emails=figures.emails,
        meetings=figures.meetings,
        other_tasks=figures.other_tasks,
        process_to_requirement=process,
        process_components=components,
        willingness_to_change=willingness,
        segment=segment,
        segment_reason=segment_reason,
    )


def _segment(
    pace: Decimal | None, *, quota: Decimal | None, period: Period, now: datetime, config: ScorecardConfig
) -> tuple[str | None, str | None]:
    """The segment, or None and why. No quota comes first: waiting would not bring a segment."""
    if not quota:
        return None, "no_quota"
    if config.too_early(period, now) or pace is None:
        return None, "too_early"
    return config.segment(pace), None


def _pace(
    attainment: Decimal | None, *, period: Period, now: datetime, config: ScorecardConfig
) -> Decimal | None:
    """Attainment over the elapsed share of the period; equal to attainment once it ended.

    None before the period starts: nothing can be on pace for time that has not passed.
    """
    if attainment is None:
        return None
    elapsed = period.elapsed_fraction(now, config.zone)
    if elapsed == 0:
        return None
    return attainment / elapsed


def _components(
    figures: Figures, *, period: Period, requirement: Requirement | None
) -> list[RequirementComponent]:
    if requirement is None:
        return []
    weeks = Decimal(period.days) / 7
    pairs = (
        ("calls", figures.calls, requirement.calls_per_week),
        ("emails", figures.emails, requirement.emails_per_week),
        ("meetings", figures.meetings, requirement.meetings_per_week),
    )
    components = []
    for activity, actual, weekly in pairs:
        # A requirement of 0 asks for nothing: it cannot be missed, and it would divide by zero.
        if weekly is None or weekly == 0:
            continue
        required = weekly * weeks
        components.append(RequirementComponent(activity, actual, required, Decimal(actual) / required))
    return components


def stack_rank(cards: list[RepScorecard]) -> list[RepScorecard]:
    """Pace descending (no pace last), then won_amount descending, then Name ascending."""

    def key(card: RepScorecard) -> tuple[int, Decimal, Decimal, str, str]:
        pace = card.metrics.pace
        return (
            0 if pace is not None else 1,
            -(pace or ZERO),
            -card.metrics.won_amount,
            (card.name or "").casefold(),
            card.rep_id,
        )

    ordered = sorted(cards, key=key)
    return [replace(card, rank=position) for position, card in enumerate(ordered, start=1)]


def segment_distribution(cards: list[RepScorecard]) -> dict[str, int]:
    counts = dict.fromkeys((*SEGMENTS, "none"), 0)
    for card in cards:
        counts[card.metrics.segment or "none"] += 1
    return counts
