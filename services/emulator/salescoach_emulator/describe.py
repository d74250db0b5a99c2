"""The REST describe bodies (global, sObject, field) with every key Salesforce documents, built from
the emulator's schema and, for picklist values, the org's data.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from salescoach_emulator.schema import (
    ID_TYPES,
    PICKLIST_DEFAULTS,
    RESTRICTED_PICKLISTS,
    TEXT_TYPES,
    FieldDef,
    ObjectDef,
)
from salescoach_emulator.store.org import OrgStore

# The keys of a Field in DescribeSObjectResult (SOAP API reference, as REST serves them).
FIELD_KEYS: tuple[str, ...] = (
    "aggregatable",
    "aiPredictionField",
    "autoNumber",
    "byteLength",
    "calculated",
    "calculatedFormula",
    "cascadeDelete",
    "caseSensitive",
    "compoundFieldName",
    "controllerName",
    "createable",
    "custom",
    "dataTranslationEnabled",
    "defaultValue",
    "defaultValueFormula",
    "defaultedOnCreate",
    "dependentPicklist",
    "deprecatedAndHidden",
    "digits",
    "displayLocationInDecimal",
    "encrypted",
    "externalId",
    "extraTypeInfo",
    "filterable",
    "filteredLookupInfo",
    "formulaTreatNullNumberAsZero",
    "groupable",
    "highScaleNumber",
    "htmlFormatted",
    "idLookup",
    "inlineHelpText",
    "label",
    "length",
    "mask",
    "maskType",
    "name",
    "nameField",
    "namePointing",
    "nillable",
    "permissionable",
    "picklistValues",
    "polymorphicForeignKey",
    "precision",
    "queryByDistance",
    "referenceTargetField",
    "referenceTo",
    "relationshipName",
    "relationshipOrder",
    "restrictedDelete",
    "restrictedPicklist",
    "scale",
    "searchPrefilterable",
    "soapType",
    "sortable",
    "type",
    "unique",
    "updateable",
    "writeRequiresMasterRead",
)

# DescribeGlobalSObjectResult, plus the REST-only ``urls``.
GLOBAL_KEYS: tuple[str, ...] = (
    "activateable",
    "associateEntityType",
    "associateParentEntity",
    "createable",
    "custom",
    "customSetting",
    "dataTranslationEnabled",
    "deepCloneable",
    "deletable",
    "deprecatedAndHidden",
    "feedEnabled",
    "hasSubtypes",
    "idEnabled",
    "isInterface",
    "isSubtype",
    "keyPrefix",
    "label",
    "labelPlural",
    "layoutable",
    "mergeable",
    "mruEnabled",
    "name",
    "queryable",
    "replicateable",
    "retrieveable",
    "searchable",
    "triggerable",
    "undeletable",
    "updateable",
    "urls",
)

# DescribeSObjectResult. SOAP's urlDetail / urlEdit / urlNew are served by REST as ``urls``.
OBJECT_KEYS: tuple[str, ...] = (
    *GLOBAL_KEYS,
    "actionOverrides",
    "childRelationships",
    "compactLayoutable",
    "defaultImplementation",
    "extendedBy",
    "extendsInterfaces",
    "fields",
    "implementedBy",
    "implementsInterfaces",
    "listviewable",
    "lookupLayoutable",
    "namedLayoutInfos",
    "networkScopeFieldName",
    "recordTypeInfos",
    "searchLayoutable",
    "sobjectDescribeOption",
    "supportedScopes",
)

CHILD_RELATIONSHIP_KEYS: tuple[str, ...] = (
    "cascadeDelete",
    "childSObject",
    "deprecatedAndHidden",
    "field",
    "junctionIdListNames",
    "junctionReferenceTo",
    "relationshipName",
    "restrictedDelete",
)
PICKLIST_ENTRY_KEYS: tuple[str, ...] = ("active", "defaultValue", "label", "validFor", "value")
RECORD_TYPE_INFO_KEYS: tuple[str, ...] = (
    "active",
    "available",
    "defaultRecordTypeMapping",
    "developerName",
    "master",
    "name",
    "recordTypeId",
    "urls",
)

MASTER_RECORD_TYPE_ID = "012000000000000AAA"
_LABELS: dict[str, tuple[str, str]] = {
    "Opportunity": ("Opportunity", "Opportunities"),
    "OpportunityHistory": ("Opportunity History", "Opportunity History"),
    "OpportunityStage": ("Opportunity Stage", "Opportunity Stages"),
}
# Standard child relationship names; other standard lookups have none, as in Salesforce.
_CHILD_NAMES: dict[tuple[str, str], str] = {
    ("Contact", "AccountId"): "Contacts",
    ("Opportunity", "AccountId"): "Opportunities",
    ("OpportunityHistory", "OpportunityId"): "OpportunityHistories",
    ("Task", "WhatId"): "Tasks",
    ("Task", "WhoId"): "Tasks",
    ("Event", "WhatId"): "Events",
    ("Event", "WhoId"): "Events",
    ("User", "ManagerId"): "ManagedUsers",
}
# Objects without record types in Salesforce (history, setup and user objects).
_NO_RECORD_TYPES = frozenset({"User", "OpportunityHistory", "OpportunityStage"})
# (precision, scale) where a standard number field differs from currency's 18, 2.
_NUMBER_SHAPES: dict[str, tuple[int, int]] = {
    "Probability": (3, 0),
    "DefaultProbability": (3, 0),
}
_COMPOUND_NAME_PARTS = frozenset({"FirstName", "LastName"})
_FLOAT_TYPES = frozenset({"double", "currency", "percent"})


def _words(name: str) -> str:
    """``CreatedDate`` -> ``Created Date``, ``OwnerId`` -> ``Owner ID``, ``Tags__c`` -> ``Tags``."""
    base = name.removesuffix("__c").replace("_", " ")
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", base)
    return re.sub(r"\bId$", "ID", spaced)


def object_labels(obj: ObjectDef) -> tuple[str, str]:
    if obj.name in _LABELS:
        return _LABELS[obj.name]
    label = _words(obj.name)
    return label, label + "s"


def _field_label(obj: ObjectDef, fdef: FieldDef) -> str:
    if fdef.label:
        return fdef.label
    if fdef.name == "Id":
        return f"{object_labels(obj)[0]} ID"
    return _words(fdef.name)


class Describer:
    """Builds describe bodies. A picklist's values are Salesforce's standard ones plus those in the
    org's CSV file; records written later do not add values, as in Salesforce."""

    def __init__(self, store: OrgStore) -> None:
        self.store = store
        self._picklists: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    # -- describe global
    def global_entry(self, obj: ObjectDef, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{obj.name}"
        label, plural = object_labels(obj)
        main = obj.createable  # the objects users work with, rather than history and setup rows
        return {
            "activateable": False,
            "associateEntityType": None,
            "associateParentEntity": None,
            "createable": obj.createable,
            "custom": obj.name.endswith("__c"),
            "customSetting": False,
            "dataTranslationEnabled": False,
            "deepCloneable": False,
            "deletable": obj.deletable,
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "hasSubtypes": False,
            "idEnabled": True,
            "isInterface": False,
            "isSubtype": False,
            "keyPrefix": obj.key_prefix or None,
            "label": label,
            "labelPlural": plural,
            "layoutable": main,
            "mergeable": obj.name in ("Account", "Contact"),
            "mruEnabled": main,
            "name": obj.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": main,
            "triggerable": main,
            "undeletable": obj.deletable,
            "updateable": obj.updateable,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }

    # -- describe sObject
    def object_describe(self, obj: ObjectDef, version: str) -> dict[str, Any]:
        body = self.global_entry(obj, version)
        main = obj.createable
        _, plural = object_labels(obj)
        scopes = [{"label": f"All {plural.lower()}", "name": "everything"}]
        if "OwnerId" in obj.fields:
            scopes.append({"label": f"My {plural.lower()}", "name": "mine"})
        body.update(
            actionOverrides=[],
            childRelationships=self._child_relationships(obj),
            compactLayoutable=main,
            defaultImplementation=None,
            extendedBy=None,
            extendsInterfaces=None,
            fields=[self.field_describe(obj, f) for f in obj.fields.values()],
            implementedBy=None,
            implementsInterfaces=None,
            listviewable=None,
            lookupLayoutable=None,
            namedLayoutInfos=[],
            networkScopeFieldName=None,
            recordTypeInfos=self._record_types(obj, version),
            searchLayoutable=main,
            sobjectDescribeOption="FULL",
            supportedScopes=scopes,
        )
        return body

    def _child_relationships(self, parent: ObjectDef) -> list[dict[str, Any]]:
        children = []
        for child in self.store.objects.values():
            for fdef in child.fields.values():
                if fdef.type != "reference" or parent.name not in fdef.reference_to:
                    continue
                name = _CHILD_NAMES.get((child.name, fdef.name))
                if name is None and fdef.custom:
                    name = child.name.removesuffix("__c") + "s__r"
                children.append(
                    {
                        "cascadeDelete": False,
                        "childSObject": child.name,
                        "deprecatedAndHidden": False,
                        "field": fdef.name,
                        "junctionIdListNames": [],
                        "junctionReferenceTo": [],
                        "relationshipName": name,
                        "restrictedDelete": False,
                    }
                )
        return children

    @staticmethod
    def _record_types(obj: ObjectDef, version: str) -> list[dict[str, Any]]:
        if obj.name in _NO_RECORD_TYPES or not obj.createable:
            return []
        layout = f"/services/data/v{version}/sobjects/{obj.name}/describe/layouts/{MASTER_RECORD_TYPE_ID}"
        return [
            {
                "active": True,
                "available": True,
                "defaultRecordTypeMapping": True,
                "developerName": "Master",
                "master": True,
                "name": "Master",
                "recordTypeId": MASTER_RECORD_TYPE_ID,
                "urls": {"layout": layout},
            }
        ]

    # -- fields
    def field_describe(self, obj: ObjectDef, f: FieldDef) -> dict[str, Any]:
        text = f.type in TEXT_TYPES
        ident = f.type in ID_TYPES
        length = 18 if ident else (f.length if text else 0)
        precision, scale = (0, 0)
        if f.type in _FLOAT_TYPES:
            precision, scale = _NUMBER_SHAPES.get(f.name, (18, 2))
        long_text = f.type == "textarea" and f.length > 255
        boolean = f.type == "boolean"
        return {
            "aggregatable": not long_text and not boolean,
            "aiPredictionField": False,
            "autoNumber": False,
            # Salesforce counts three bytes a character for text, one for ids.
            "byteLength": 18 if ident else (f.length * 3 if text else 0),
            "calculated": False,
            "calculatedFormula": None,
            "cascadeDelete": False,
            "caseSensitive": False,
            "compoundFieldName": "Name"
            if f.name in _COMPOUND_NAME_PARTS and obj.name in ("User", "Contact")
            else None,
            "controllerName": None,
            "createable": f.createable,
            "custom": f.custom,
            "dataTranslationEnabled": False,
            # Checkboxes default to false and are never null.
            "defaultValue": False if boolean else None,
            "defaultValueFormula": None,
            "defaultedOnCreate": boolean
            or not f.createable
            or f.name in ("Id", "OwnerId")
            or self._default_picklist_value(obj, f) is not None,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": 9 if f.type == "int" else 0,
            "displayLocationInDecimal": False,
            "encrypted": False,
            "externalId": f.external_id,
            "extraTypeInfo": "plaintextarea" if f.type == "textarea" else None,
            "filterable": not long_text,
            "filteredLookupInfo": None,
            "formulaTreatNullNumberAsZero": False,
            "groupable": not long_text and f.type not in (*_FLOAT_TYPES, "datetime"),
            "highScaleNumber": False,
            "htmlFormatted": False,
            "idLookup": f.name == "Id" or f.external_id,
            "inlineHelpText": None,
            "label": _field_label(obj, f),
            "length": length,
            "mask": None,
            "maskType": None,
            "name": f.name,
            "nameField": f.name == "Name" or (f.name == "Subject" and obj.name in ("Task", "Event")),
            "namePointing": len(f.reference_to) > 1,
            "nillable": f.nillable and not boolean,
            "permissionable": f.custom or (f.nillable and f.updateable and not boolean),
            "picklistValues": self.picklist_values(obj, f) if f.type == "picklist" else [],
            "polymorphicForeignKey": len(f.reference_to) > 1,
            "precision": precision,
            "queryByDistance": False,
            "referenceTargetField": None,
            "referenceTo": list(f.reference_to),
            "relationshipName": f.relationship_name,
            "relationshipOrder": None,
            "restrictedDelete": False,
            "restrictedPicklist": (obj.name, f.name) in RESTRICTED_PICKLISTS,
            "scale": scale,
            "searchPrefilterable": False,
            "soapType": f.soap_type,
            "sortable": not long_text,
            "type": f.type,
            "unique": f.unique,
            "updateable": f.updateable,
            "writeRequiresMasterRead": False,
        }

    @staticmethod
    def _default_picklist_value(obj: ObjectDef, f: FieldDef) -> str | None:
        if f.type != "picklist":
            return None
        return PICKLIST_DEFAULTS.get((obj.name, f.name), ((), None))[1]

    def picklist_values(self, obj: ObjectDef, f: FieldDef) -> list[dict[str, Any]]:
        key = (obj.name, f.name)
        with self._lock:
            cached = self._picklists.get(key)
        if cached is not None:
            return cached
        standard, default = PICKLIST_DEFAULTS.get(key, ((), None))
        if key == ("Opportunity", "StageName"):
            values = self.store.stage_names() or self.store.csv_picklist_values(obj.name, f.name)
        else:
            found = self.store.csv_picklist_values(obj.name, f.name)
            values = [*standard, *(v for v in found if v not in standard)]
        entries = [
            {"active": True, "defaultValue": v == default, "label": v, "validFor": None, "value": v}
            for v in values
        ]
        with self._lock:
            self._picklists[key] = entries
        return entries
