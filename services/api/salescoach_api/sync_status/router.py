"""`GET /v1/sync/status`."""

from __future__ import annotations

from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import DbSessionDep, NowDep, SettingsDep
from salescoach_api.sync_status.schemas import ApiUsageStatus, ObjectSyncStatus, SyncStatus
from salescoach_core.sync_status import api_usage_today, list_sync_states

router = v1_router(prefix="/v1", tags=["sync"])


@router.get("/sync/status", operation_id="getSyncStatus", dependencies=[requires(Access.AUTHENTICATED)])
def get_sync_status(db_session: DbSessionDep, settings: SettingsDep, now: NowDep) -> SyncStatus:
    """Per synced object: mode and status of the last run, when it started and finished, rows
    inserted/updated/deleted, the high-water mark, API calls used and the last error. Objects
    never synced are absent. `api_usage`: the worker's API calls today against its budget."""
    usage = api_usage_today(db_session, now)
    return SyncStatus(
        items=[ObjectSyncStatus.of(state) for state in list_sync_states(db_session)],
        api_usage=ApiUsageStatus.of(usage, configured_interval=settings.sync_interval_seconds)
        if usage
        else None,
    )
