"""Tables mirroring the Salesforce objects the product syncs (docs/domain.md, "Salesforce objects synced").

Column names are the snake_case of the API names; the Salesforce Id is the primary key.
`custom_fields` carries the custom fields configured for sync, by API name.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Index, Numeric, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from salescoach_core.models.base import money, sf_id_pk, sf_ref, timestamp

# Pages keep 10% free, so that a sync merging changed rows updates them in place (HOT, no new
# entry in any index) when no indexed column changed, which is what most Salesforce edits are:
# the 1M benchmark's merge of 10k changed Task rows (five indexes) took 0.35 s at fillfactor 100,
# 0.16 s at 90, for a table 9.5% larger. Alembic does not compare storage parameters: migration
# 20261123_5f1d2c3b4a69_fillfactor_synced_tables sets them.
SYNCED_TABLE_STORAGE = {"postgresql_with": {"fillfactor": 90}}


def custom_fields() -> Any:
    return Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )


class SfUser(SQLModel, table=True):
    __tablename__ = "sf_user"
    # `GET /v1/reps?sort=name` (and `-name`) walks this index in order, page after page.
    __table_args__ = (Index(None, "name", "id"),)

    id: str = sf_id_pk()
    name: str | None = None
    email: str | None = None
    is_active: bool = True
    manager_id: str | None = sf_ref(index=True)
    user_role_id: str | None = sf_ref()
    title: str | None = None
    time_zone_sid_key: str | None = None
    system_modstamp: datetime | None = timestamp()
    custom_fields: dict[str, Any] = custom_fields()


class SfOpportunity(SQLModel, table=True):
    __tablename__ = "sf_opportunity"
    # The scorecard reads only these indexes (index-only scans): the INCLUDE columns spare a
    # heap visit per opportunity, which is what made the cost grow with the org's size.
    __table_args__ = (
        Index(
            None,
            "owner_id",
            "created_date",
            postgresql_where=text("NOT is_deleted"),
            postgresql_include=["amount"],
        ),
        Index(
            None,
            "owner_id",
            "close_date",
            postgresql_where=text("NOT is_deleted"),
            postgresql_include=["is_closed", "is_won", "amount", "created_date"],
        ),
        SYNCED_TABLE_STORAGE,
    )

    id: str = sf_id_pk()
    owner_id: str | None = sf_ref()
    name: str | None = None
    account_id: str | None = sf_ref()
    amount: Decimal | None = money()
    stage_name: str | None = None
    is_closed: bool = False
    is_won: bool = False
    close_date: date | None = None
    created_date: datetime | None = timestamp()
    last_modified_date: datetime | None = timestamp()
    system_modstamp: datetime | None = timestamp()
    is_deleted: bool = False
    probability: Decimal | None = Field(default=None, sa_type=Numeric(5, 2))
    forecast_category_name: str | None = None
    type: str | None = None
    lead_source: str | None = None
    custom_fields: dict[str, Any] = custom_fields()


class SfOpportunityHistory(SQLModel, table=True):
    __tablename__ = "sf_opportunity_history"
    __table_args__ = (Index(None, "opportunity_id", "created_date"), SYNCED_TABLE_STORAGE)

    id: str = sf_id_pk()
    opportunity_id: str | None = sf_ref()
    stage_name: str | None = None
    amount: Decimal | None = money()
    close_date: date | None = None
    created_date: datetime | None = timestamp()
    system_modstamp: datetime | None = timestamp()
    is_deleted: bool = False


class SfOpportunityStage(SQLModel, table=True):
    __tablename__ = "sf_opportunity_stage"

    id: str = sf_id_pk()
    api_name: str | None = None
    master_label: str | None = None
    sort_order: int | None = None
    is_active: bool = True
    is_closed: bool = False
    is_won: bool = False
    default_probability: Decimal | None = Field(default=None, sa_type=Numeric(5, 2))
    system_modstamp: datetime | None = timestamp()


class SfTask(SQLModel, table=True):
    __tablename__ = "sf_task"
    # Covering the scorecard's activity counts, as for sf_opportunity.
    __table_args__ = (
        Index(
            None,
            "owner_id",
            "completed_date_time",
            postgresql_where=text("NOT is_deleted"),
            postgresql_include=["is_closed", "task_subtype", "type"],
        ),
        Index(
            None,
            "owner_id",
            "activity_date",
            postgresql_where=text("NOT is_deleted"),
            postgresql_include=["is_closed", "completed_date_time", "task_subtype", "type"],
        ),
        SYNCED_TABLE_STORAGE,
    )

    id: str = sf_id_pk()
    owner_id: str | None = sf_ref()
    what_id: str | None = sf_ref(index=True)
    who_id: str | None = sf_ref()
    subject: str | None = None
    status: str | None = None
    is_closed: bool = False
    activity_date: date | None = None
    task_subtype: str | None = None
    type: str | None = None
    call_duration_in_seconds: int | None = None
    completed_date_time: datetime | None = timestamp()
    created_date: datetime | None = timestamp()
    system_modstamp: datetime | None = timestamp()
    is_deleted: bool = False
    is_archived: bool = False
    external_id: str | None = Field(
        default=None,
        index=True,
        max_length=255,
        description="Value of the configured external-id field (written back by salescoach).",
    )
    custom_fields: dict[str, Any] = custom_fields()


class SfEvent(SQLModel, table=True):
    __tablename__ = "sf_event"
    __table_args__ = (
        Index(None, "owner_id", "start_date_time", postgresql_where=text("NOT is_deleted")),
        SYNCED_TABLE_STORAGE,
    )

    id: str = sf_id_pk()
    owner_id: str | None = sf_ref()
    what_id: str | None = sf_ref(index=True)
    who_id: str | None = sf_ref()
    subject: str | None = None
    start_date_time: datetime | None = timestamp()
    end_date_time: datetime | None = timestamp()
    duration_in_minutes: int | None = None
    type: str | None = None
    created_date: datetime | None = timestamp()
    system_modstamp: datetime | None = timestamp()
    is_deleted: bool = False
    is_archived: bool = False
    custom_fields: dict[str, Any] = custom_fields()
