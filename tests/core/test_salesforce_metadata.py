"""infra/salesforce: the integration user's permission set grants read on what the sync reads,
with the dependencies Salesforce enforces at deploy time."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from salescoach_sync.objects import OBJECT_NAMES, object_specs

PERMISSION_SET = (
    Path(__file__).resolve().parents[2]
    / "infra/salesforce/force-app/main/default/permissionsets/Salescoach_Integration.permissionset-meta.xml"
)
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}

# How Salesforce grants read on each synced object (Salesforce Object Reference and Help,
# "Object Permissions"): ("object", X) is an objectPermissions entry with allowRead on X,
# ("user", P) a userPermissions entry. History rows are visible with their parent
# Opportunity; OpportunityStage is setup data any API user can query; Task and Event have no
# object permissions (their records are shared, see docs/salesforce-setup.md), so API access is
# all the set can give.
READ_GRANTED_BY: dict[str, tuple[str, str]] = {
    "User": ("user", "ViewAllUsers"),
    "OpportunityStage": ("user", "ApiEnabled"),
    "Opportunity": ("object", "Opportunity"),
    "OpportunityHistory": ("object", "Opportunity"),
    "Task": ("user", "EditTask"),
    "Event": ("user", "ApiEnabled"),
}
# Read on an object needs read on these (Salesforce refuses the permission set otherwise).
READ_DEPENDS_ON = {"Opportunity": ["Account"], "Contact": ["Account"], "Contract": ["Account"]}
# Standard Opportunity fields under field-level security (required fields such as Name,
# StageName and CloseDate are always readable and cannot be listed).
OPPORTUNITY_FLS_FIELDS = {"AccountId", "Amount", "ForecastCategoryName", "LeadSource", "Probability", "Type"}


def _parse() -> ET.Element:
    return ET.parse(PERMISSION_SET).getroot()


def _readable_objects(root: ET.Element) -> set[str]:
    return {
        entry.findtext("md:object", namespaces=NS) or ""
        for entry in root.findall("md:objectPermissions", NS)
        if entry.findtext("md:allowRead", namespaces=NS) == "true"
    }


def _enabled_user_permissions(root: ET.Element) -> set[str]:
    return {
        entry.findtext("md:name", namespaces=NS) or ""
        for entry in root.findall("md:userPermissions", NS)
        if entry.findtext("md:enabled", namespaces=NS) == "true"
    }


def test_opportunity_read_comes_with_account_read() -> None:
    readable = _readable_objects(_parse())
    assert "Opportunity" in readable
    assert "Account" in readable


def test_every_read_has_the_reads_it_depends_on() -> None:
    readable = _readable_objects(_parse())
    missing = {obj: [dep for dep in READ_DEPENDS_ON.get(obj, []) if dep not in readable] for obj in readable}
    assert {obj: deps for obj, deps in missing.items() if deps} == {}


def test_every_object_the_sync_reads_is_readable() -> None:
    root = _parse()
    assert set(READ_GRANTED_BY) == set(OBJECT_NAMES), "say how the set grants read on a new synced object"
    readable, user_permissions = _readable_objects(root), _enabled_user_permissions(root)
    assert "ApiEnabled" in user_permissions
    lacking = [
        name
        for name, (kind, grant) in READ_GRANTED_BY.items()
        if grant not in (readable if kind == "object" else user_permissions)
    ]
    assert lacking == []


def test_opportunity_fields_the_sync_reads_are_readable() -> None:
    root = _parse()
    readable_fields = {
        entry.findtext("md:field", namespaces=NS)
        for entry in root.findall("md:fieldPermissions", NS)
        if entry.findtext("md:readable", namespaces=NS) == "true"
    }
    (opportunity,) = object_specs(["Opportunity"])
    synced_under_fls = {f.api_name for f in opportunity.fields} & OPPORTUNITY_FLS_FIELDS
    assert synced_under_fls, "the sync reads no field under FLS: the check proves nothing"
    assert {f"Opportunity.{name}" for name in synced_under_fls} <= readable_fields
