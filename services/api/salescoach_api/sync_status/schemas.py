"""The sync status on the wire."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from salescoach_core.models import SyncApiUsage, SyncState


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


class ApiUsageStatus(BaseModel):
    """The sync worker's Salesforce API calls today (UTC) and the pace it keeps for its budget."""

    day: date
    calls_today: int = Field(description="API calls the worker made today (passes, probes, write-back).")
    passes_today: int
    projected_calls: int | None = Field(
        description="Calls today plus the rest of the day at the current pace: what the day will end at."
    )
    daily_budget: int | None = Field(
        description="SALESCOACH_SF_DAILY_CALL_BUDGET (or its share of the org's limit); null: none set."
    )
    interval_seconds: float | None = Field(description="The pause between passes the worker now keeps.")
    configured_interval_seconds: float = Field(description="SALESCOACH_SYNC_INTERVAL_SECONDS.")
    stretched: bool = Field(description="True when the budget made the pause longer than configured.")

    @classmethod
    def of(cls, usage: SyncApiUsage, *, configured_interval: float) -> ApiUsageStatus:
        interval = usage.interval_seconds
        return cls(
            day=usage.day,
            calls_today=usage.calls,
            passes_today=usage.passes,
            projected_calls=usage.projected_calls,
            daily_budget=usage.budget,
            interval_seconds=interval,
            configured_interval_seconds=configured_interval,
            stretched=interval is not None and interval > configured_interval,
        )


class SyncStatus(BaseModel):
    items: list[ObjectSyncStatus]
    api_usage: ApiUsageStatus | None = Field(
        default=None, description="Today's API calls and pace; null before the worker's first pass today."
    )
