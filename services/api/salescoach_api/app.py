"""The FastAPI application: routers, problem-details errors, observability, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from salescoach_api.activity_requirements.router import router as activity_requirements_router
from salescoach_api.analytics.router import router as analytics_router
from salescoach_api.auth.install import install_auth
from salescoach_api.auth.policy import deny_undeclared_access
from salescoach_api.dependencies import reject_unstorable_parameters
from salescoach_api.events.router import router as events_router
from salescoach_api.exports.router import router as exports_router
from salescoach_api.goals.router import router as goals_router
from salescoach_api.health.replica import ReplicaCollector
from salescoach_api.health.router import router as health_router
from salescoach_api.idempotency import install_idempotency
from salescoach_api.limits import MULTIPART_OVERHEAD_BYTES, install_body_limit
from salescoach_api.observability import install_observability
from salescoach_api.openapi import install_openapi
from salescoach_api.problems import PROBLEM_RESPONSES, install_problem_handlers
from salescoach_api.quotas.router import MAX_UPLOAD_BYTES
from salescoach_api.quotas.router import router as quotas_router
from salescoach_api.reps.router import router as reps_router
from salescoach_api.scorecards.router import router as scorecards_router
from salescoach_api.sessions.router import router as sessions_router
from salescoach_api.sync_status.metrics import SyncBudgetCollector
from salescoach_api.sync_status.router import router as sync_status_router
from salescoach_api.webhooks.router import router as webhooks_router
from salescoach_core import __version__
from salescoach_core.database import Database
from salescoach_core.database.replica import read_replica
from salescoach_core.scorecards.cache import TeamReportCache
from salescoach_core.settings import Settings, get_settings

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = database or Database(settings, for_requests=True)
    replica = read_replica(database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(database.engine)
            log.info("api_started", salesforce_mode=settings.salesforce_mode)
        except Exception as exc:
            # Keep serving: /readyz reports the reason until the database answers.
            log.error("database_unavailable_at_start", error=str(exc))
        yield
        database.dispose()
        if replica is not None:
            replica.dispose()

    # /docs and /redoc load Swagger UI and ReDoc from the fastapi-offline wheel, not a CDN, and
    # ReDoc without Google Fonts: the pages render on an air-gapped machine.
    app = FastAPIOffline(
        title="salescoach API",
        version=__version__,
        summary="Rep scorecards, coaching goals and session records from Salesforce data.",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        # Fail closed: a route that declares no access policy answers 500, never data. Path and
        # query values are checked for unstorable text before anything else looks at them.
        dependencies=[Depends(deny_undeclared_access), Depends(reject_unstorable_parameters)],
    )
    app.state.settings = settings
    app.state.database = database
    app.state.read_replica = replica
    app.state.scorecard_cache = TeamReportCache(ttl_seconds=settings.scorecard_cache_seconds)
    install_problem_handlers(app)
    install_openapi(app)
    # Inside the observability middleware, so its answers carry request ids and access logs.
    install_idempotency(app, database)
    # Outside every middleware and route that reads a body, inside those that only read headers
    # (request ids, access log, metrics, CORS), so a 413 is logged and carries its request id.
    install_body_limit(
        app,
        max_bytes=settings.max_request_body_bytes,
        larger={"/v1/quotas/import": MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES},
    )
    install_observability(
        app, SyncBudgetCollector(database), *([ReplicaCollector(replica)] if replica is not None else [])
    )
    install_auth(app, settings)
    app.include_router(health_router)
    app.include_router(sync_status_router)
    app.include_router(reps_router)
    app.include_router(quotas_router)
    app.include_router(scorecards_router)
    app.include_router(analytics_router)
    app.include_router(activity_requirements_router)
    app.include_router(goals_router)
    app.include_router(sessions_router)
    app.include_router(events_router)
    app.include_router(webhooks_router)
    app.include_router(exports_router)
    return app
