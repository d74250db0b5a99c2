"""The sync status on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from salescoach_core.models import SyncState


class ObjectSyncStatus(BaseModel):
    """The last run for one Salesforce object."""

    object_name: str = Field(description="Salesforce object API name, e.g. `Task`.")
    last_mode: Literal["full", "incremental"] | None = Field(description="Mode of the last run.")
    last_status: Literal["running", "ok", "failed", "stopped", "interrupted"] | None = Field(
        description="`stopped`: the API quota guard stopped the run (checkpoint kept); "
        "`interrupted`: the worker was asked to stop; `running` after a crash until the next run."
    )
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_success_at: datetime | None = Field(description="When the last successful run finished.")
    rows_inserted: int
    rows_updated: int
    rows_deleted: int = Field(description="Rows that became deleted or were purged in the org.")
    high_water_mark: datetime | None = Field(
        description="Greatest SystemModstamp covered; the next incremental run reads from just before it."
    )
    last_full_sync_at: datetime | None
    last_reconciled_at: datetime | None = Field(description="Last comparison of full id sets.")
    api_calls: int = Field(description="Salesforce API calls the last run used.")
    last_error: str | None

    @classmethod
    def of(cls, state: SyncState) -> ObjectSyncStatus:
        return cls.model_validate(state, from_attributes=True)


class SyncStatus(BaseModel):
    items: list[ObjectSyncStatus]
