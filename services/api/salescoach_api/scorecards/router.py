"""`/v1/reps/{rep_id}/scorecard` and `/v1/teams/{manager_id}/scorecards`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from salescoach_api import etags
from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import NowDep, ReadSessionDep, SettingsDep
from salescoach_api.periods import PeriodDep
from salescoach_api.scorecards.schemas import MetricsPublic, PeriodPublic, ScorecardPublic, TeamScorecards
from salescoach_core import reps
from salescoach_core.scorecards.cache import TeamReportCache
from salescoach_core.scorecards.config import ScorecardConfig
from salescoach_core.scorecards.service import data_as_of, team_report

router = v1_router(prefix="/v1", tags=["scorecards"], route_class=etags.ETagRoute)


def get_scorecard_cache(request: Request) -> TeamReportCache:
    cache: TeamReportCache = request.app.state.scorecard_cache
    return cache


ScorecardCacheDep = Annotated[TeamReportCache, Depends(get_scorecard_cache)]


@router.get(
    "/reps/{rep_id}/scorecard",
    operation_id="getRepScorecard",
    dependencies=[requires(Access.REP_READ, rep="rep_id")],
)
def get_rep_scorecard(
    db_session: ReadSessionDep,
    settings: SettingsDep,
    now: NowDep,
    cache: ScorecardCacheDep,
    rep_id: str,
    chosen: PeriodDep,
) -> ScorecardPublic:
    """Every scorecard metric of the rep for the period, with the rep's rank in their team.

    Default period: the running month in the org's zone."""
    config = ScorecardConfig.from_settings(settings)
    rep = reps.get_rep(db_session, rep_id)

    def build() -> ScorecardPublic:
        card = cache.rep_scorecard(db_session, rep=rep, period=chosen, config=config, now=now)
        return ScorecardPublic.of_card(
            card, period=PeriodPublic.of(chosen, config.zone.key), data_as_of=data_as_of(db_session)
        )

    return cache.memo(
        db_session, ("rep_scorecard", rep.id), period=chosen, config=config, now=now, compute=build
    )


@router.get(
    "/teams/{manager_id}/scorecards",
    operation_id="getTeamScorecards",
    dependencies=[requires(Access.REP_READ, rep="manager_id")],
)
def get_team_scorecards(
    db_session: ReadSessionDep,
    settings: SettingsDep,
    now: NowDep,
    cache: ScorecardCacheDep,
    manager_id: str,
    chosen: PeriodDep,
    scope: Annotated[Literal["team", "org"], Query(description="`team` or the whole `org`.")] = "team",
) -> TeamScorecards:
    """One scorecard per active rep in stack-rank order, team totals and the segment distribution.

    Default period: the running month in the org's zone."""
    config = ScorecardConfig.from_settings(settings)
    manager = reps.get_manager(db_session, manager_id)

    def build() -> TeamScorecards:
        report = team_report(
            db_session, manager_id=manager.id, whole_org=scope == "org", period=chosen, config=config, now=now
        )
        shown_period = PeriodPublic.of(chosen, config.zone.key)
        as_of = data_as_of(db_session)
        return TeamScorecards(
            manager_id=manager.id,
            scope=scope,
            period=shown_period,
            data_as_of=as_of,
            scorecards=[
                ScorecardPublic.of_card(c, period=shown_period, data_as_of=as_of) for c in report.cards
            ],
            totals=MetricsPublic.of(report.totals),
            segment_distribution=report.distribution,
        )

    # The finished body is cached, not only the figures: building twelve cards costs as much as
    # reading them.
    return cache.memo(
        db_session,
        ("team_scorecards", manager.id, scope),
        period=chosen,
        config=config,
        now=now,
        compute=build,
    )
