"""Loss analysis (docs/domain.md, "Efficiencies"): where a rep's lost opportunities were lost.

The loss stage of an opportunity is the last StageName of its OpportunityHistory, ordered by
CreatedDate, that is not a closed stage. Without such a row it is the opportunity's own
StageName if that is not a closed stage either; otherwise it is unknown (None): an opportunity
synced already 'Closed Lost' with no history says nothing about where it was lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlmodel import Session

from salescoach_core.analytics.config import AnalyticsConfig
from salescoach_core.analytics.stages import StageCatalog
from salescoach_core.periods import Period

ZERO = Decimal(0)

# History rows tie on CreatedDate when Salesforce writes several in one transaction; the Id
# breaks the tie so the answer does not depend on the plan.
_LOSS_SQL = text(
    """
    WITH lost AS (
        SELECT id, amount, stage_name, created_date, close_date
        FROM sf_opportunity
        WHERE owner_id = ANY(:rep_ids) AND NOT is_deleted AND is_closed AND NOT is_won
          AND close_date >= :start_day AND close_date < :end_day
    ),
    staged AS (
        SELECT lost.amount,
               lost.close_date - (lost.created_date AT TIME ZONE :zone)::date AS days_to_loss,
               coalesce(
                   last_open.stage_name,
                   CASE WHEN lost.stage_name <> ALL(:closed_stages) THEN lost.stage_name END
               ) AS loss_stage
        FROM lost
        LEFT JOIN LATERAL (
            SELECT h.stage_name
            FROM sf_opportunity_history h
            WHERE h.opportunity_id = lost.id AND NOT h.is_deleted
              AND h.stage_name IS NOT NULL AND h.stage_name <> ALL(:closed_stages)
            ORDER BY h.created_date DESC NULLS LAST, h.id DESC
            LIMIT 1
        ) last_open ON true
    )
    SELECT loss_stage,
           count(*) AS lost,
           coalesce(sum(amount), 0) AS amount,
           count(days_to_loss) AS with_days,
           coalesce(sum(days_to_loss), 0) AS days_total
    FROM staged
    GROUP BY loss_stage
    """
)


@dataclass(frozen=True)
class LossBucket:
    stage: str | None
    """The loss stage; None when unknown."""
    is_open_stage: bool
    """False for an inactive or unknown stage name, and for the unknown bucket."""
    early: bool | None
    count: int
    amount: Decimal


@dataclass(frozen=True)
class LossAnalysis:
    lost_count: int
    lost_amount: Decimal
    by_stage: list[LossBucket]
    mean_days_to_loss: Decimal | None
    early_loss_share: Decimal | None
    open_stage_count: int
    early_stages: list[str]


def loss_analysis(
    session: Session, *, rep_id: str, period: Period, stages: StageCatalog, config: AnalyticsConfig
) -> LossAnalysis:
    rows = session.execute(
        _LOSS_SQL,
        {
            "rep_ids": [rep_id],
            "start_day": period.start,
            "end_day": period.end,
            "zone": config.zone.key,
            "closed_stages": sorted(stages.closed),
        },
    ).mappings()
    found: dict[str | None, tuple[int, Decimal]] = {}
    with_days = 0
    days_total = 0
    for row in rows:
        found[row["loss_stage"]] = (row["lost"], Decimal(row["amount"]))
        with_days += row["with_days"]
        days_total += int(row["days_total"])

    # Every open stage appears (zero when nothing was lost there) so charts keep their axis;
    # other stage names follow by name, the unknown bucket last.
    buckets = [
        LossBucket(stage, True, stages.is_early(stage), *found.pop(stage, (0, ZERO)))
        for stage in stages.open_stages
    ]
    unknown = found.pop(None, None)
    buckets += [
        LossBucket(stage, False, None, count, amount)
        for stage, (count, amount) in sorted(found.items(), key=lambda item: item[0] or "")
    ]
    if unknown is not None:
        buckets.append(LossBucket(None, False, None, *unknown))

    # early_loss_share is over losses whose stage is an open stage: for the others the half
    # they were lost in is not known, so they are neither early nor late.
    placed = [bucket for bucket in buckets if bucket.early is not None]
    placed_count = sum(bucket.count for bucket in placed)
    early_count = sum(bucket.count for bucket in placed if bucket.early)
    return LossAnalysis(
        lost_count=sum(bucket.count for bucket in buckets),
        lost_amount=sum((bucket.amount for bucket in buckets), ZERO),
        by_stage=buckets,
        mean_days_to_loss=Decimal(days_total) / with_days if with_days else None,
        early_loss_share=Decimal(early_count) / placed_count if placed_count else None,
        open_stage_count=len(stages.open_stages),
        early_stages=[stage for stage in stages.open_stages if stages.is_early(stage)],
    )
