"""Object and field metadata: the standard objects the emulator knows, plus typing of custom columns.

The schema drives three things: how CSV values are stored in SQLite, how SOQL literals are
type-checked, and what ``describe`` returns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from salescoach_core.sfids import is_valid_id
from salescoach_emulator.ids import KEY_PREFIXES

FieldType = Literal[
    "id",
    "string",
    "boolean",
    "date",
    "datetime",
    "double",
    "currency",
    "percent",
    "int",
    "reference",
    "picklist",
    "textarea",
    "email",
    "phone",
    "url",
]
FIELD_TYPES: frozenset[str] = frozenset(FieldType.__args__)  # type: ignore[attr-defined]
TEXT_TYPES = frozenset({"string", "picklist", "textarea", "email", "phone", "url"})
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})

_SOAP_TYPES: dict[str, str] = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
}


@dataclass(frozen=True)
class FieldDef:
    """One field of an object, with the describe attributes the emulator honours."""

    name: str
    type: str
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    label: str = ""
    length: int = 255

    @property
    def soap_type(self) -> str:
        return _SOAP_TYPES.get(self.type, "xsd:string")


@dataclass
class ObjectDef:
    """An object (sObject type): its fields in column order and its key prefix."""

    name: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    required_on_create: tuple[str, ...] = ()

    def field_ci(self, name: str) -> FieldDef | None:
        """Look a field up case-insensitively, as SOQL and the REST API do."""
        found = self.fields.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.name.lower() == lowered:
                return candidate
        return None

    def relationship_ci(self, name: str) -> FieldDef | None:
        """The reference field whose relationship name is ``name`` (``Owner`` -> ``OwnerId``)."""
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.relationship_name and candidate.relationship_name.lower() == lowered:
                return candidate
        return None

    @property
    def has_archive(self) -> bool:
        return "IsArchived" in self.fields


def _f(name: str, type_: str, *refs: str, **kwargs: object) -> FieldDef:
    relationship = None
    if type_ == "reference":
        relationship = name[:-2] if name.endswith("Id") else name
    return FieldDef(name, type_, tuple(refs), relationship, **kwargs)  # type: ignore[arg-type]


_RO: dict[str, object] = {"createable": False, "updateable": False}

# Fields every object has; Salesforce sets them, clients cannot.
SYSTEM_FIELDS: tuple[FieldDef, ...] = (
    _f("Id", "id", nillable=False, unique=True, **_RO),
    _f("IsDeleted", "boolean", nillable=False, **_RO),
    _f("CreatedDate", "datetime", nillable=False, **_RO),
    _f("CreatedById", "reference", "User", **_RO),
    _f("LastModifiedDate", "datetime", nillable=False, **_RO),
    _f("LastModifiedById", "reference", "User", **_RO),
    _f("SystemModstamp", "datetime", nillable=False, **_RO),
)
SYSTEM_FIELD_NAMES = frozenset(f.name for f in SYSTEM_FIELDS)

# The fields Task and Event share as activities, first in both.
_ACTIVITY_FIELDS: tuple[FieldDef, ...] = (
    _f("OwnerId", "reference", "User"),
    _f("WhatId", "reference", "Account", "Opportunity"),
    _f("WhoId", "reference", "Contact", "Lead"),
    _f("Subject", "string"),
    _f("Description", "textarea", length=32000),
)
_STANDARD: dict[str, tuple[FieldDef, ...]] = {
    "User": (
        _f("Username", "string", unique=True),
        _f("FirstName", "string"),
        _f("LastName", "string"),
        _f("Name", "string", **_RO),
        _f("Alias", "string"),
        _f("Email", "email"),
        _f("IsActive", "boolean"),
        _f("ManagerId", "reference", "User"),
        _f("UserRoleId", "reference", "UserRole"),
        _f("Title", "string"),
        _f("TimeZoneSidKey", "picklist"),
    ),
    "Account": (
        _f("Name", "string"),
        _f("OwnerId", "reference", "User"),
        _f("Type", "picklist"),
        _f("Industry", "picklist"),
        _f("BillingCountry", "string"),
        _f("AnnualRevenue", "currency"),
        _f("NumberOfEmployees", "int"),
    ),
    "Contact": (
        _f("AccountId", "reference", "Account"),
        _f("FirstName", "string"),
        _f("LastName", "string"),
        _f("Name", "string", **_RO),
        _f("Email", "email"),
        _f("Title", "string"),
        _f("Phone", "phone"),
        _f("OwnerId", "reference", "User"),
    ),
    "Opportunity": (
        _f("OwnerId", "reference", "User"),
        _f("Name", "string"),
        _f("AccountId", "reference", "Account"),
        _f("Amount", "currency"),
        _f("StageName", "picklist"),
        _f("IsClosed", "boolean", **_RO),
        _f("IsWon", "boolean", **_RO),
        _f("CloseDate", "date"),
        _f("Probability", "percent"),
        _f("ForecastCategoryName", "picklist"),
        _f("Type", "picklist"),
        _f("LeadSource", "picklist"),
    ),
    "OpportunityHistory": (
        _f("OpportunityId", "reference", "Opportunity", **_RO),
        _f("StageName", "picklist", **_RO),
        _f("Amount", "currency", **_RO),
        _f("CloseDate", "date", **_RO),
        _f("Probability", "percent", **_RO),
        _f("ForecastCategory", "picklist", **_RO),
    ),
    "OpportunityStage": (
        _f("ApiName", "string", **_RO),
        _f("MasterLabel", "string", **_RO),
        _f("SortOrder", "int", **_RO),
        _f("IsActive", "boolean", **_RO),
        _f("IsClosed", "boolean", **_RO),
        _f("IsWon", "boolean", **_RO),
        _f("DefaultProbability", "percent", **_RO),
        _f("ForecastCategoryName", "picklist", **_RO),
    ),
    "Task": (
        *_ACTIVITY_FIELDS,
        _f("Status", "picklist"),
        _f("Priority", "picklist"),
        _f("IsClosed", "boolean", **_RO),
        _f("ActivityDate", "date"),
        _f("TaskSubtype", "picklist"),
        _f("Type", "picklist"),
        _f("CallDurationInSeconds", "int"),
        _f("CallType", "picklist"),
        _f("CompletedDateTime", "datetime", **_RO),
        _f("IsArchived", "boolean", **_RO),
    ),
    "Event": (
        *_ACTIVITY_FIELDS,
        _f("StartDateTime", "datetime"),
        _f("EndDateTime", "datetime"),
        _f("ActivityDate", "date"),
        _f("ActivityDateTime", "datetime"),
        _f("DurationInMinutes", "int"),
        _f("Type", "picklist"),
        _f("IsArchived", "boolean", **_RO),
    ),
}
# Salesforce's default values of the standard picklists (the first is the default where one
# is marked); describe serves them together with the values found in the org's CSV files.
_ACTIVITY_TYPES = ("Call", "Email", "Meeting", "Other")
PICKLIST_DEFAULTS: dict[tuple[str, str], tuple[tuple[str, ...], str | None]] = {
    ("Task", "Status"): (
        ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
        "Not Started",
    ),
    ("Task", "Priority"): (("High", "Normal", "Low"), "Normal"),
    ("Task", "TaskSubtype"): (("Task", "Email", "ListEmail", "Cadence", "Call"), None),
    ("Task", "Type"): (_ACTIVITY_TYPES, None),
    ("Task", "CallType"): (("Internal", "Inbound", "Outbound"), None),
    ("Event", "Type"): (_ACTIVITY_TYPES, None),
    ("Opportunity", "Type"): (
        (
            "Existing Customer - Upgrade",
            "Existing Customer - Replacement",
            "Existing Customer - Downgrade",
            "New Customer",
        ),
        None,
    ),
    ("Opportunity", "LeadSource"): (
        ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
        None,
    ),
    ("Opportunity", "ForecastCategoryName"): (("Omitted", "Pipeline", "Best Case", "Commit", "Closed"), None),
    ("OpportunityStage", "ForecastCategoryName"): (
        ("Omitted", "Pipeline", "Best Case", "Commit", "Closed"),
        None,
    ),
    ("OpportunityHistory", "ForecastCategory"): (
        ("Omitted", "Pipeline", "BestCase", "Forecast", "Closed"),
        None,
    ),
    ("Account", "Type"): (
        (
            "Prospect",
            "Customer - Direct",
            "Customer - Channel",
            "Channel Partner / Reseller",
            "Installation Partner",
            "Technology Partner",
            "Other",
        ),
        None,
    ),
}
# Picklists whose values the emulator enforces on write (an unknown stage is refused).
RESTRICTED_PICKLISTS = frozenset({("Opportunity", "StageName")})

# OpportunityHistory has no LastModified* fields in Salesforce; keeping them is harmless and
# simpler than special-casing the system field list.
_READ_ONLY_OBJECTS = frozenset({"OpportunityHistory", "OpportunityStage"})
_REQUIRED: dict[str, tuple[str, ...]] = {
    "Account": ("Name",),
    "Contact": ("LastName",),
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "User": ("Username", "LastName", "Email"),
}

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_INT_RE = re.compile(r"^-?\d+$")
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


def infer_type(name: str, values: list[str]) -> FieldDef:
    """Type an unknown column from sample values, as a custom field of that shape."""
    present = [v for v in values if v != ""]
    custom = name.endswith("__c")
    type_: str = "string"
    refs: tuple[str, ...] = ()
    if present:
        if all(v in ("true", "false") for v in present):
            type_ = "boolean"
        elif all(_DATE_RE.match(v) for v in present):
            type_ = "date"
        elif all(_DATETIME_RE.match(v) for v in present):
            type_ = "datetime"
        elif all(_NUMBER_RE.match(v) for v in present):
            # Salesforce number fields are doubles whatever their scale.
            type_ = "double"
        elif all(len(v) in (15, 18) and is_valid_id(v) for v in present):
            type_ = "reference"
            prefix_to_object = {p: o for o, p in KEY_PREFIXES.items()}
            refs = tuple(sorted({prefix_to_object.get(v[:3], v[:3]) for v in present}))
    relationship = None
    if type_ == "reference":
        relationship = name[:-2] if name.endswith("Id") else name.replace("__c", "__r")
    return FieldDef(name, type_, refs, relationship, custom=custom)


def fielddef_from_json(name: str, spec: dict[str, object]) -> FieldDef:
    """A field declared in ``fields.json`` (see docs/emulator.md for the format)."""
    type_ = str(spec.get("type", "string"))
    if type_ not in FIELD_TYPES:
        raise ValueError(f"fields.json: {name}: unknown type {type_!r}")
    refs_raw = spec.get("referenceTo", [])
    refs = tuple(str(r) for r in refs_raw) if isinstance(refs_raw, list) else ()
    relationship = spec.get("relationshipName")
    if relationship is None and type_ == "reference":
        relationship = name[:-2] if name.endswith("Id") else name.replace("__c", "__r")
    length = spec.get("length", 255)
    return FieldDef(
        name,
        type_,
        refs,
        str(relationship) if relationship else None,
        external_id=bool(spec.get("externalId", False)),
        unique=bool(spec.get("unique", False)),
        nillable=bool(spec.get("nillable", True)),
        custom=name.endswith("__c"),
        label=str(spec.get("label", "")),
        length=int(length) if isinstance(length, int) else 255,
    )


def load_fields_json(path: Path) -> dict[str, dict[str, dict[str, object]]]:
    """Read ``fields.json``: ``{"Task": {"Salescoach_Id__c": {"type": "string", ...}}}``."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("fields.json must hold an object keyed by sObject name")
    return data


def build_object(
    name: str,
    header: list[str],
    sample_rows: list[list[str]],
    declared: dict[str, dict[str, object]],
) -> ObjectDef:
    """The object for ``name``: standard fields, then the CSV's other columns, typed."""
    key_prefix = KEY_PREFIXES.get(name, "")
    if not key_prefix:
        id_col = header.index("Id") if "Id" in header else -1
        first = next((r[id_col] for r in sample_rows if id_col >= 0 and r[id_col]), "")
        # Custom objects get a prefix from their data, or a made-up one in the a0 range.
        key_prefix = first[:3] if first else "a0" + chr(ord("A") + len(name) % 26)
    obj = ObjectDef(
        name,
        key_prefix,
        required_on_create=_REQUIRED.get(name, ()),
    )
    if name in _READ_ONLY_OBJECTS:
        obj.createable = obj.updateable = obj.deletable = False
    for fdef in SYSTEM_FIELDS:
        obj.fields[fdef.name] = fdef
    for fdef in _STANDARD.get(name, ()):
        obj.fields[fdef.name] = fdef
    for index, column in enumerate(header):
        if column in obj.fields and column not in declared:
            continue
        if column in declared:
            obj.fields[column] = fielddef_from_json(column, declared[column])
        else:
            obj.fields[column] = infer_type(column, [r[index] for r in sample_rows])
    for column, spec in declared.items():
        if column not in obj.fields:
            obj.fields[column] = fielddef_from_json(column, spec)
    return obj


STANDARD_OBJECTS: tuple[str, ...] = tuple(_STANDARD)
