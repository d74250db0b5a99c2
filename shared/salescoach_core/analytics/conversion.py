"""Stage conversion and the chokepoint (docs/domain.md, "Efficiencies"), rep and team side by side.

From OpportunityHistory, each opportunity's stages form a sequence of visits (consecutive rows
in the same stage are one visit: history also records amount and date changes). For an open
stage s, an opportunity counts in period P when it first entered s within P. It has left s
unless its latest visit is s; among those that left, it converted when, after first entering s,
it reached a later open stage or a won stage. Days in s add up every finished visit to s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlmodel import Session

from salescoach_core.analytics.config import AnalyticsConfig
from salescoach_core.analytics.stages import StageCatalog
from salescoach_core.periods import Period

SECONDS_PER_DAY = Decimal(86400)

# `reach` ranks a visit: an open stage's position in SortOrder, a won stage above every open
# stage, anything else (lost, unknown) nowhere. `best_after` is the highest rank reached in any
# later visit, so at the first visit to s it says whether s was ever passed.
_CONVERSION_SQL = text(
    """
    WITH ranks AS (
        SELECT * FROM unnest(CAST(:open_stages AS text[]), CAST(:positions AS int[])) AS r(stage, position)
        UNION ALL
        SELECT stage, :won_rank FROM unnest(CAST(:won_stages AS text[])) AS w(stage)
    ),
    opps AS (
        SELECT o.id, o.owner_id
        FROM sf_opportunity o
        WHERE o.owner_id = ANY(:rep_ids) AND NOT o.is_deleted
          AND EXISTS (SELECT 1 FROM sf_opportunity_history h
                      WHERE h.opportunity_id = o.id AND NOT h.is_deleted
                        AND h.created_date >= :start_at AND h.created_date < :end_at)
    ),
    history AS (
        SELECT opps.owner_id, h.opportunity_id, h.stage_name, h.created_date, h.id,
               lag(h.stage_name) OVER (PARTITION BY h.opportunity_id ORDER BY h.created_date, h.id)
                   AS previous_stage
        FROM opps JOIN sf_opportunity_history h ON h.opportunity_id = opps.id
        WHERE NOT h.is_deleted AND h.stage_name IS NOT NULL AND h.created_date IS NOT NULL
    ),
    visits AS (
        SELECT history.owner_id, history.opportunity_id, history.stage_name,
               history.created_date AS entered_at,
               lead(history.created_date) OVER visit AS left_at,
               max(ranks.position) OVER (visit ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
                   AS best_after
        FROM history LEFT JOIN ranks ON ranks.stage = history.stage_name
        WHERE history.previous_stage IS DISTINCT FROM history.stage_name
        WINDOW visit AS (PARTITION BY history.opportunity_id ORDER BY history.created_date, history.id)
    ),
    per_stage AS (
        SELECT visits.owner_id, visits.opportunity_id, visits.stage_name, ranks.position,
               min(visits.entered_at) AS first_entered,
               bool_or(visits.left_at IS NULL) AS still_in,
               max(visits.best_after) AS best_after,
               sum(extract(epoch FROM visits.left_at - visits.entered_at)) AS seconds_in
        FROM visits JOIN ranks ON ranks.stage = visits.stage_name AND ranks.position < :won_rank
        GROUP BY visits.owner_id, visits.opportunity_id, visits.stage_name, ranks.position
    )
    SELECT owner_id, stage_name,
           count(*) AS entered,
           count(*) FILTER (WHERE NOT still_in) AS left_stage,
           count(*) FILTER (WHERE NOT still_in AND best_after > position) AS converted,
           coalesce(sum(seconds_in) FILTER (WHERE NOT still_in), 0) AS seconds_in
    FROM per_stage
    WHERE first_entered >= :start_at AND first_entered < :end_at
    GROUP BY owner_id, stage_name
    """
)


@dataclass(frozen=True)
class StageCounts:
    entered: int = 0
    left: int = 0
    converted: int = 0
    seconds_in: Decimal = Decimal(0)

    def __add__(self, other: StageCounts) -> StageCounts:
        return StageCounts(
            self.entered + other.entered,
            self.left + other.left,
            self.converted + other.converted,
            self.seconds_in + other.seconds_in,
        )

    @property
    def conversion(self) -> Decimal | None:
        return Decimal(self.converted) / self.left if self.left else None

    @property
    def mean_days(self) -> Decimal | None:
        return self.seconds_in / SECONDS_PER_DAY / self.left if self.left else None


@dataclass(frozen=True)
class StageConversion:
    stage: str
    rep: StageCounts
    team: StageCounts | None
    shortfall: Decimal | None
    """Team conversion minus the rep's; positive when the rep converts less."""


@dataclass(frozen=True)
class ConversionReport:
    stages: list[StageConversion]
    chokepoint: str | None
    team_size: int


def stage_conversion(
    session: Session,
    *,
    rep_id: str,
    team_ids: Sequence[str] | None,
    period: Period,
    stages: StageCatalog,
    config: AnalyticsConfig,
) -> ConversionReport:
    """The rep's conversion per open stage, the team's beside it (None without a team), and the
    chokepoint: the stage with the largest positive shortfall among those the rep left at least
    `chokepoint_min_opportunities` times (the earlier stage on a tie; None when the rep trails
    the team nowhere)."""
    rep_ids = sorted({rep_id, *(team_ids or ())})
    start_at, end_at = period.instants(config.zone)
    won_rank = len(stages.open_stages)
    rows = session.execute(
        _CONVERSION_SQL,
        {
            "rep_ids": rep_ids,
            "start_at": start_at,
            "end_at": end_at,
            "open_stages": list(stages.open_stages),
            "positions": list(range(len(stages.open_stages))),
            "won_stages": sorted(stages.won),
            "won_rank": won_rank,
        },
    ).mappings()
    rep_counts: dict[str, StageCounts] = defaultdict(StageCounts)
    team_counts: dict[str, StageCounts] = defaultdict(StageCounts)
    for row in rows:
        counts = StageCounts(row["entered"], row["left_stage"], row["converted"], Decimal(row["seconds_in"]))
        if row["owner_id"] == rep_id:
            rep_counts[row["stage_name"]] += counts
        team_counts[row["stage_name"]] += counts

    report = []
    for stage in stages.open_stages:
        rep = rep_counts[stage]
        team = team_counts[stage] if team_ids is not None else None
        shortfall = None
        if team is not None and rep.conversion is not None and team.conversion is not None:
            shortfall = team.conversion - rep.conversion
        report.append(StageConversion(stage, rep, team, shortfall))

    candidates = [
        item
        for item in report
        if item.shortfall is not None
        and item.shortfall > 0
        and item.rep.left >= config.chokepoint_min_opportunities
    ]
    # max() keeps the first of equal shortfalls: the earlier stage, where the loss compounds.
    chokepoint = max(candidates, key=lambda item: item.shortfall or 0).stage if candidates else None
    return ConversionReport(
        stages=report, chokepoint=chokepoint, team_size=len(rep_ids) if team_ids is not None else 1
    )
