"""What is synced: per object, the API fields and the columns they fill (docs/domain.md), checked
against `describe` and completed from configuration (custom fields, field sources).

A standard field marked required stops the object's sync with a message naming it when the
integration user cannot see it; an optional one is skipped (its column keeps its default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from salescoach_core.models import (
    SfEvent,
    SfOpportunity,
    SfOpportunityHistory,
    SfOpportunityStage,
    SfTask,
    SfUser,
)
from salescoach_core.settings import Settings
from salescoach_sync.errors import SalesforceAccessError

log = structlog.get_logger(__name__)

MODSTAMP = "SystemModstamp"
CUSTOM_FIELDS_COLUMN = "custom_fields"
EXTERNAL_ID_COLUMN = "external_id"


@dataclass(frozen=True)
class FieldSpec:
    api_name: str
    column: str
    required: bool = False


def _f(api_name: str, column: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(api_name, column, required)


@dataclass(frozen=True)
class ObjectSpec:
    """One synced object. `query_all`: read with queryAll, so deleted (and, for activities,
    archived) records come too; such objects have IsDeleted and keep deleted rows flagged."""

    name: str
    table: Table
    fields: tuple[FieldSpec, ...]
    query_all: bool
    # getUpdated serves it (replicable, and read with plain query so getUpdated's omission of
    # deleted records loses nothing): its change probe can spare one of a composite's 5 queries.
    probe_with_get_updated: bool = False

    @property
    def has_is_deleted(self) -> bool:
        return any(f.api_name == "IsDeleted" for f in self.fields)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


_COMMON_REQUIRED = (_f("Id", "id", required=True), _f(MODSTAMP, "system_modstamp", required=True))

# Sync order: referenced objects first. With SALESCOACH_SYNC_CONCURRENCY=1 a consumer reading
# mid-pass sees parents before children; with more, objects start in this order and may
# finish in another (each commits on its own).
OBJECTS: tuple[ObjectSpec, ...] = (
    ObjectSpec(
        "User",
        _table(SfUser),
        (
            *_COMMON_REQUIRED,
            _f("Name", "name", required=True),
            _f("Email", "email"),
            _f("IsActive", "is_active", required=True),
            _f("ManagerId", "manager_id", required=True),
            _f("UserRoleId", "user_role_id"),
            _f("Title", "title"),
            _f("TimeZoneSidKey", "time_zone_sid_key"),
        ),
        query_all=False,
        probe_with_get_updated=True,
    ),
    ObjectSpec(
        "OpportunityStage",
        _table(SfOpportunityStage),
        (
            *_COMMON_REQUIRED,
            _f("ApiName", "api_name", required=True),
            _f("MasterLabel", "master_label"),
            _f("SortOrder", "sort_order", required=True),
            _f("IsActive", "is_active", required=True),
            _f("IsClosed", "is_closed", required=True),
            _f("IsWon", "is_won", required=True),
            _f("DefaultProbability", "default_probability"),
        ),
        query_all=False,
    ),
    ObjectSpec(
        "Opportunity",
        _table(SfOpportunity),
        (
            *_COMMON_REQUIRED,
            _f("IsDeleted", "is_deleted", required=True),
            _f("OwnerId", "owner_id", required=True),
            _f("Name", "name"),
            _f("AccountId", "account_id"),
            _f("Amount", "amount", required=True),
            _f("StageName", "stage_name", required=True),
            _f("IsClosed", "is_closed", required=True),
            _f("IsWon", "is_won", required=True),
            _f("CloseDate", "close_date", required=True),
            _f("CreatedDate", "created_date", required=True),
            _f("LastModifiedDate", "last_modified_date"),
            _f("Probability", "probability"),
            _f("ForecastCategoryName", "forecast_category_name"),
            _f("Type", "type"),
            _f("LeadSource", "lead_source"),
        ),
        query_all=True,
    ),
    ObjectSpec(
        "OpportunityHistory",
        _table(SfOpportunityHistory),
        (
            *_COMMON_REQUIRED,
            _f("IsDeleted", "is_deleted", required=True),
            _f("OpportunityId", "opportunity_id", required=True),
            _f("StageName", "stage_name", required=True),
            _f("Amount", "amount"),
            _f("CloseDate", "close_date"),
            _f("CreatedDate", "created_date", required=True),
        ),
        query_all=True,
    ),
    ObjectSpec(
        "Task",
        _table(SfTask),
        (
            *_COMMON_REQUIRED,
            _f("IsDeleted", "is_deleted", required=True),
            _f("IsArchived", "is_archived", required=True),
            _f("OwnerId", "owner_id", required=True),
            _f("WhatId", "what_id"),
            _f("WhoId", "who_id"),
            _f("Subject", "subject"),
            _f("Status", "status", required=True),
            _f("IsClosed", "is_closed", required=True),
            _f("ActivityDate", "activity_date", required=True),
            _f("TaskSubtype", "task_subtype"),
            _f("Type", "type"),
            _f("CallDurationInSeconds", "call_duration_in_seconds"),
            _f("CompletedDateTime", "completed_date_time"),
            _f("CreatedDate", "created_date", required=True),
        ),
        query_all=True,
    ),
    ObjectSpec(
        "Event",
        _table(SfEvent),
        (
            *_COMMON_REQUIRED,
            _f("IsDeleted", "is_deleted", required=True),
            _f("IsArchived", "is_archived", required=True),
            _f("OwnerId", "owner_id", required=True),
            _f("WhatId", "what_id"),
            _f("WhoId", "who_id"),
            _f("Subject", "subject"),
            _f("StartDateTime", "start_date_time", required=True),
            _f("EndDateTime", "end_date_time"),
            _f("DurationInMinutes", "duration_in_minutes"),
            _f("Type", "type"),
            _f("CreatedDate", "created_date", required=True),
        ),
        query_all=True,
    ),
)
OBJECT_NAMES: tuple[str, ...] = tuple(spec.name for spec in OBJECTS)


def object_specs(names: Sequence[str] | None = None) -> list[ObjectSpec]:
    """The specs for `names` (any case), in sync order; all when None. Unknown names raise ValueError."""
    if not names:
        return list(OBJECTS)
    by_lower = {spec.name.lower(): spec for spec in OBJECTS}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise ValueError(f"unknown object(s) {', '.join(unknown)}; choose from {', '.join(OBJECT_NAMES)}")
    wanted = {n.lower() for n in names}
    return [spec for spec in OBJECTS if spec.name.lower() in wanted]


# describe types -> how a custom field is staged (PostgreSQL type) and turned into JSON.
_CUSTOM_STAGE_TYPES = {
    "boolean": "boolean",
    "double": "numeric",
    "currency": "numeric",
    "percent": "numeric",
    "int": "numeric",
    "long": "numeric",
    "date": "date",
    "datetime": "timestamptz",
}


@dataclass(frozen=True)
class StagedField:
    """A field selected from Salesforce: the staging column is named by its API name."""

    api_name: str
    sql_type: str


@dataclass(frozen=True)
class ColumnMapping:
    column: str
    source: str  # API name of the staged field it is filled from


@dataclass(frozen=True)
class ResolvedObject:
    """An object as this org can serve it: what to select, and where each value goes."""

    spec: ObjectSpec
    staged: tuple[StagedField, ...]
    columns: tuple[ColumnMapping, ...]
    custom: tuple[ColumnMapping, ...]  # JSON key (the custom field's API name) <- staged field
    skipped: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def select_list(self) -> str:
        return ", ".join(f.api_name for f in self.staged)

    def soql(self, where: str | None = None) -> str:
        query = f"SELECT {self.select_list} FROM {self.spec.name}"  # noqa: S608 - SOQL from specs
        return f"{query} WHERE {where}" if where else query


def _sql_type(table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


def resolve(spec: ObjectSpec, describe: Mapping[str, Any], settings: Settings) -> ResolvedObject:
    """Check the spec and the configured fields against `describe` (case-insensitive, as the API)."""
    available = {str(f["name"]).lower(): f for f in describe.get("fields", [])}
    sources = {k.lower(): v for k, v in settings.sync_field_sources.get(spec.name, {}).items()}
    staged: dict[str, StagedField] = {}
    columns: list[ColumnMapping] = []
    custom: list[ColumnMapping] = []
    skipped: list[str] = []

    def stage(api_name: str, sql_type: str) -> str:
        canonical = str(available[api_name.lower()]["name"])
        staged.setdefault(canonical.lower(), StagedField(canonical, sql_type))
        return staged[canonical.lower()].api_name

    wanted = list(spec.fields)
    if spec.name == "Task" and settings.sf_task_external_id_field:
        wanted.append(FieldSpec(settings.sf_task_external_id_field, EXTERNAL_ID_COLUMN))
    for field in wanted:
        source = sources.get(field.api_name.lower(), field.api_name)
        if source.lower() not in available:
            if field.required or source != field.api_name:
                raise SalesforceAccessError(
                    f"{spec.name}.{source} is not visible to the integration user (absent from "
                    f"describe) and salescoach needs it for {spec.table.name}.{field.column}. Grant "
                    "read access to it (field-level security), or map another field with "
                    "SALESCOACH_SYNC_FIELD_SOURCES."
                )
            skipped.append(field.api_name)
            continue
        columns.append(ColumnMapping(field.column, stage(source, _sql_type(spec.table, field.column))))

    configured = settings.sync_custom_fields.get(spec.name, [])
    if configured and CUSTOM_FIELDS_COLUMN not in spec.table.c:
        raise SalesforceAccessError(
            f"SALESCOACH_SYNC_CUSTOM_FIELDS lists fields for {spec.name}, "
            "whose table has no custom_fields column"
        )
    for api_name in configured:
        described = available.get(api_name.lower())
        if described is None:
            raise SalesforceAccessError(
                f"{spec.name}.{api_name} (configured in SALESCOACH_SYNC_CUSTOM_FIELDS) is not visible "
                "to the integration user: check the field's API name and its field-level security."
            )
        sql_type = _CUSTOM_STAGE_TYPES.get(str(described.get("type", "")).lower(), "text")
        custom.append(ColumnMapping(str(described["name"]), stage(api_name, sql_type)))

    if skipped:
        log.warning("sync_fields_skipped", object=spec.name, fields=skipped)
    return ResolvedObject(spec, tuple(staged.values()), tuple(columns), tuple(custom), tuple(skipped))
