"""`/v1/reps/{rep_id}/...`: loss analysis, stage conversion, pipeline, what-if and trend."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from salescoach_api.analytics.schemas import (
    LossAnalysisPublic,
    PipelinePublic,
    StageConversionReport,
    TrendMetric,
    TrendPublic,
    WhatIfPublic,
    WhatIfRequest,
)
from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import NowDep, ReadSessionDep, SettingsDep
from salescoach_api.periods import PeriodDep
from salescoach_api.problems import parameters
from salescoach_api.scorecards.schemas import PeriodPublic
from salescoach_api.types import Day
from salescoach_core import reps
from salescoach_core.analytics.config import AnalyticsConfig
from salescoach_core.analytics.conversion import stage_conversion
from salescoach_core.analytics.loss import loss_analysis
from salescoach_core.analytics.pipeline import pipeline_health
from salescoach_core.analytics.stages import stage_catalog
from salescoach_core.analytics.trend import metric_trend
from salescoach_core.analytics.whatif import what_if
from salescoach_core.periods import check_day
from salescoach_core.scorecards.config import ScorecardConfig

router = v1_router(prefix="/v1", tags=["analytics"])


@router.get(
    "/reps/{rep_id}/loss-analysis",
    operation_id="getRepLossAnalysis",
    dependencies=[requires(Access.REP_READ, rep="rep_id")],
)
def get_loss_analysis(
    db_session: ReadSessionDep,
    settings: SettingsDep,
    rep_id: str,
    chosen: PeriodDep,
) -> LossAnalysisPublic:
    """Lost opportunities closing in the period, by the stage they were lost at.

    Default period: the running month in the org's zone."""
    config = AnalyticsConfig.from_settings(settings)
    rep = reps.get_rep(db_session, rep_id)
    analysis = loss_analysis(
        db_session, rep_id=rep.id, period=chosen, stages=stage_catalog(db_session), config=config
    )
    return LossAnalysisPublic.of(rep.id, PeriodPublic.of(chosen, config.zone.key), analysis)


@router.get(
    "/reps/{rep_id}/stage-conversion",
    operation_id="getRepStageConversion",
    dependencies=[requires(Access.REP_READ, rep="rep_id")],
)
def get_stage_conversion(
    db_session: ReadSessionDep,
    settings: SettingsDep,
    rep_id: str,
    chosen: PeriodDep,
) -> StageConversionReport:
    """Conversion and days per open stage for opportunities entering it in the period, rep and
    team side by side, and the chokepoint.

    Default period: the running month in the org's zone."""
    config = AnalyticsConfig.from_settings(settings)
    rep = reps.get_rep(db_session, rep_id)
    team_ids = None
    if rep.manager_id is not None:
        team = reps.team_members(db_session, manager_id=rep.manager_id, whole_org=False)
        team_ids = [member.id for member in team]
    report = stage_conversion(
        db_session,
        rep_id=rep.id,
        team_ids=team_ids,
        period=chosen,
        stages=stage_catalog(db_session),
        config=config,
    )
    return StageConversionReport.of(
        rep_id=rep.id,
        manager_id=rep.manager_id,
        period=PeriodPublic.of(chosen, config.zone.key),
        report=report,
        min_opportunities=config.chokepoint_min_opportunities,
    )


@router.get(
    "/reps/{rep_id}/pipeline",
    operation_id="getRepPipeline",
    dependencies=[requires(Access.REP_READ, rep="rep_id")],
)
def get_pipeline(
    db_session: ReadSessionDep,
    settings: SettingsDep,
    now: NowDep,
    rep_id: str,
    as_of: Annotated[Day | None, Query(description="Day to judge the pipeline on; default today.")] = None,
) -> PipelinePublic:
    """Open, stale and past-due opportunities and next month's coverage, as of a day.

    `as_of` is a day, not a period: the pipeline is a snapshot at one moment, so it takes no
    `period`, `from` or `to`."""
    config = AnalyticsConfig.from_settings(settings)
    rep = reps.get_rep(db_session, rep_id)
    day = check_day(as_of or now.astimezone(config.zone).date())
    health = pipeline_health(db_session, rep_id=rep.id, as_of=day, config=config)
    return PipelinePublic.of(
        rep.id,
        health,
        timezone=config.zone.key,
        stale_days=config.stale_days,
        stale_activity_days=config.stale_activity_days,
    )


@router.post(
    "/reps/{rep_id}/what-if",
    operation_id="runRepWhatIf",
    # A calculation, not a write: nothing is stored, so reading the rep is all it needs.
    dependencies=[requires(Access.REP_READ, rep="rep_id")],
)
def post_what_if(
    db_session: ReadSessionDep, settings: SettingsDep, now: NowDep, rep_id: str, body: WhatIfRequest
) -> WhatIfPublic:
    """Baseline over the trailing full months, the scenario's projection and its dollar effect."""
    config = AnalyticsConfig.from_settings(settings)
    rep = reps.get_rep(db_session, rep_id)
    result = what_if(
        db_session,
        rep=rep,
        changes=body.domain_changes(),
        now=now,
        config=config,
        scorecard_config=ScorecardConfig.from_settings(settings),
    )
    return WhatIfPublic.of(rep.id, result, config.zone.key)


@router.get(
    "/reps/{rep_id}/trend", operation_id="getRepTrend", dependencies=[requires(Access.REP_READ, rep="rep_id")]
)
def get_trend(
    db_session: ReadSessionDep,
    settings: SettingsDep,
    now: NowDep,
    rep_id: str,
    metric: Annotated[TrendMetric, Query(description="A numeric scorecard metric.")],
    chosen: PeriodDep,
    grain: Annotated[Literal["month"], Query(description="Only `month` for now.")] = "month",
) -> TrendPublic:
    """One value of the metric per calendar month the period spans (at most 36), for charts; a
    month the period cuts is a point over its part of that month.

    Default period: the running month in the org's zone."""
    config = ScorecardConfig.from_settings(settings)
    rep = reps.get_rep(db_session, rep_id)
    # A period too long for a trend is a range (`from`/`to`): a month or a quarter never is.
    with parameters("query", *(("from", "to") if chosen.kind == "range" else ("period",))):
        points = metric_trend(db_session, rep=rep, metric=metric, period=chosen, now=now, config=config)
    return TrendPublic.of(rep.id, metric, PeriodPublic.of(chosen, config.zone.key), points, config.zone.key)
