"""Response fields say what they hold: a field typed as days holds days (`monthly_starts` was a
count of opportunities described as "Days"), and the what-if drivers say how they are computed.
A list's `sort` parameter says only what its fields can do: a tie-break where a field can tie,
a null order where a field can be null."""

from __future__ import annotations

from typing import Any

from salescoach_api.app import create_app
from salescoach_core.settings import Settings

OPENAPI = create_app(Settings()).openapi()
SCHEMAS = OPENAPI["components"]["schemas"]


def descriptions(prop: dict[str, Any]) -> list[str]:
    """The field's own description and those of the types it may be."""
    found = [prop.get("description", "")]
    found += [option.get("description", "") for option in prop.get("anyOf", ())]
    return found


def test_only_fields_holding_days_are_described_as_days() -> None:
    wrong = [
        f"{name}.{field}"
        for name, schema in SCHEMAS.items()
        for field, prop in schema.get("properties", {}).items()
        if any(text.startswith("Days") for text in descriptions(prop)) and "days" not in field
    ]
    assert wrong == []


def test_what_if_drivers_describe_starts_per_month() -> None:
    starts = SCHEMAS["DriversPublic"]["properties"]["monthly_starts"]
    text = " ".join(descriptions(starts))
    assert "per month" in text
    assert "opportunity_starts" in text
    required = " ".join(descriptions(SCHEMAS["ProcessComponent"]["properties"]["required"]))
    assert "Activities required" in required


ORDER = "Sort order: a field ascending, `-field` descending"
TIES = "; ties by id in the same direction"
# docs/api.md, "Sorting": the fields that may be null, and (for API keys) a unique one.
SORT_DESCRIPTIONS = {
    "listReps": f"{ORDER}{TIES}; nulls (`name`) last ascending, first descending. Default `id`.",
    "listApiKeys": f"{ORDER}. Default `prefix`.",
    "listGoals": (
        f"{ORDER}{TIES}; nulls (`closed_at`) last ascending, first descending. Default `created_at`."
    ),
    "listSessions": (
        f"{ORDER}{TIES}; nulls (`follow_up_at`, `closed_at`) last ascending, first descending. "
        "Default `scheduled_at`."
    ),
    "listActionItems": (
        f"{ORDER}{TIES}; nulls (`due_date`, `completed_on`) last ascending, first descending. "
        "Default `created_at`."
    ),
    "listWebhooks": f"{ORDER}{TIES}. Default `created_at`.",
    "listWebhookDeliveries": f"{ORDER}{TIES}. Default `-created_at`.",
}


def test_sort_descriptions_mention_ties_and_nulls_only_where_fields_have_them() -> None:
    found = {
        operation["operationId"]: parameter["description"]
        for operations in OPENAPI["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", ())
        if parameter["name"] == "sort"
    }
    assert found == SORT_DESCRIPTIONS
