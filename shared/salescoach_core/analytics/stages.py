"""The org's opportunity stages (OpportunityStage): which are open, in what order, which win.

StageName on Opportunity and OpportunityHistory holds the stage's API name, so stages are
matched on `api_name`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from salescoach_core.models import SfOpportunityStage


@dataclass(frozen=True)
class StageCatalog:
    open_stages: tuple[str, ...]
    """Active stages that are not closed, by SortOrder (then name, for a stable order)."""
    closed: frozenset[str]
    """Every closed stage, active or not: a StageName in it is never a loss stage."""
    won: frozenset[str]

    def position(self, stage: str | None) -> int | None:
        """Index of an open stage in SortOrder; None for anything else."""
        if stage is None or stage not in self.open_stages:
            return None
        return self.open_stages.index(stage)

    def is_early(self, stage: str | None) -> bool | None:
        """Whether an open stage lies in the first half of the open stages; None if not open.

        The first half is the first floor(n/2) stages: with an odd count the middle stage is in
        neither half, so it never counts as early (docs/metrics.md, "Loss analysis").
        """
        position = self.position(stage)
        if position is None:
            return None
        return position < len(self.open_stages) // 2


def stage_catalog(session: Session) -> StageCatalog:
    rows = session.exec(select(SfOpportunityStage).where(col(SfOpportunityStage.api_name).is_not(None))).all()
    open_rows = sorted(
        (row for row in rows if row.is_active and not row.is_closed),
        key=lambda row: (row.sort_order is None, row.sort_order or 0, row.api_name or ""),
    )
    return StageCatalog(
        open_stages=tuple(row.api_name for row in open_rows if row.api_name is not None),
        closed=frozenset(row.api_name for row in rows if row.is_closed and row.api_name is not None),
        won=frozenset(row.api_name for row in rows if row.is_won and row.api_name is not None),
    )
