"""Per-object sync state: the high-water mark and the figures of the last run.

`last_success_at` is when the last run that completed without error finished: the API's
`data_as_of` is read from it. `described_fields` caches the object's describe (field names and
types, what the sync resolves its field list from) as of `described_at`, so that a one-shot
`sync run` does not describe every object again.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from salescoach_core.models.base import timestamp


class SyncState(SQLModel, table=True):
    __tablename__ = "sync_state"

    object_name: str = Field(primary_key=True, max_length=80)
    high_water_mark: datetime | None = timestamp()
    last_full_sync_at: datetime | None = timestamp()
    last_reconciled_at: datetime | None = timestamp()
    last_mode: str | None = Field(default=None, max_length=16)
    last_status: str | None = Field(default=None, max_length=16)
    last_started_at: datetime | None = timestamp()
    last_finished_at: datetime | None = timestamp()
    last_success_at: datetime | None = timestamp()
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    api_calls: int = 0
    last_error: str | None = None
    described_fields: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSONB, nullable=True)
    )
    described_at: datetime | None = timestamp()
    # End of the span the last getDeleted call covered: the next call starts there.
    deleted_checked_at: datetime | None = timestamp()
    # When the last read of the object's changes began (or a probe that found none was made):
    # a change probe counts from this instant less the overlap.
    window_read_at: datetime | None = timestamp()


class SyncApiUsage(SQLModel, table=True):
    """Salesforce API calls the sync worker made per UTC day, and the pace it keeps to stay
    inside its daily budget (what `sync status`, `/v1/sync/status` and `/metrics` show)."""

    __tablename__ = "sync_api_usage"

    day: date = Field(primary_key=True)
    calls: int = 0
    passes: int = 0
    budget: int | None = None
    interval_seconds: float | None = None
    projected_calls: int | None = None
    updated_at: datetime | None = timestamp()
