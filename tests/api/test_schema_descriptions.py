"""Response fields say what they hold: a field typed as days holds days (`monthly_starts` was a
count of opportunities described as "Days"), and the what-if drivers say how they are computed."""

from __future__ import annotations

from typing import Any

from salescoach_api.app import create_app
from salescoach_core.settings import Settings

SCHEMAS = create_app(Settings()).openapi()["components"]["schemas"]


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
