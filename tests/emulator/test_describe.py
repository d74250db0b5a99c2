"""Describe and limits carry every key Salesforce documents, with values worked out from the org.

The key lists are copied from the SOAP API reference (DescribeSObjectResult, Field,
ChildRelationship, PicklistEntry, RecordTypeInfo, DescribeGlobalSObjectResult) and the REST
reference's limits list, not from the emulator's code; clients such as tap-salesforce read
these keys without ``.get``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from simple_salesforce import Salesforce

DOCUMENTED_FIELD_KEYS = [
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
]
# SOAP's urlDetail / urlEdit / urlNew are REST's ``urls``.
DOCUMENTED_GLOBAL_KEYS = [
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
]
DOCUMENTED_OBJECT_KEYS = [
    *DOCUMENTED_GLOBAL_KEYS,
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
]
CHILD_RELATIONSHIP_KEYS = [
    "cascadeDelete",
    "childSObject",
    "deprecatedAndHidden",
    "field",
    "junctionIdListNames",
    "junctionReferenceTo",
    "relationshipName",
    "restrictedDelete",
]
PICKLIST_ENTRY_KEYS = ["active", "defaultValue", "label", "validFor", "value"]
RECORD_TYPE_KEYS = [
    "active",
    "available",
    "defaultRecordTypeMapping",
    "developerName",
    "master",
    "name",
    "recordTypeId",
    "urls",
]
DOCUMENTED_LIMITS = [
    "ActiveScratchOrgs",
    "AnalyticsExternalDataSizeMB",
    "ConcurrentAsyncGetReportInstances",
    "ConcurrentEinsteinDataInsightsStoryCreation",
    "ConcurrentEinsteinDiscoveryStoryCreation",
    "ConcurrentSyncReportRuns",
    "DailyAnalyticsDataflowJobExecutions",
    "DailyAnalyticsUploadedFilesSizeMB",
    "DailyApiRequests",
    "DailyAsyncApexExecutions",
    "DailyAsyncApexTests",
    "DailyBulkApiBatches",
    "DailyBulkV2QueryFileStorageMB",
    "DailyBulkV2QueryJobs",
    "DailyDeliveredPlatformEvents",
    "DailyDurableGenericStreamingApiEvents",
    "DailyDurableStreamingApiEvents",
    "DailyEinsteinDataInsightsStoryCreation",
    "DailyEinsteinDiscoveryPredictAPICalls",
    "DailyEinsteinDiscoveryPredictionsByCDC",
    "DailyEinsteinDiscoveryStoryCreation",
    "DailyFunctionsApiCallLimit",
    "DailyGenericStreamingApiEvents",
    "DailyScratchOrgs",
    "DailyStandardVolumePlatformEvents",
    "DailyStreamingApiEvents",
    "DailyWorkflowEmails",
    "DataStorageMB",
    "DurableStreamingApiConcurrentClients",
    "FileStorageMB",
    "HourlyAsyncReportRuns",
    "HourlyDashboardRefreshes",
    "HourlyDashboardResults",
    "HourlyDashboardStatuses",
    "HourlyLongTermIdMapping",
    "HourlyManagedContentPublicRequests",
    "HourlyODataCallout",
    "HourlyPublishedPlatformEvents",
    "HourlyPublishedStandardVolumePlatformEvents",
    "HourlyShortTermIdMapping",
    "HourlySyncReportRuns",
    "HourlyTimeBasedWorkflow",
    "MassEmail",
    "MonthlyEinsteinDiscoveryStoryCreation",
    "Package2VersionCreates",
    "Package2VersionCreatesWithoutValidation",
    "SingleEmail",
    "StreamingApiConcurrentClients",
]


def _missing(body: dict[str, object], keys: list[str]) -> list[str]:
    return [k for k in keys if k not in body]


def _column(org: Path, object_name: str, column: str) -> list[str]:
    with (org / f"{object_name}.csv").open(encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def test_every_documented_describe_key_is_served_for_every_object(sf: Salesforce) -> None:
    described = sf.describe()
    assert _missing(described, ["encoding", "maxBatchSize", "sobjects"]) == []
    problems = []
    for entry in described["sobjects"]:
        name = entry["name"]
        problems += [f"global {name}.{k}" for k in _missing(entry, DOCUMENTED_GLOBAL_KEYS)]
        body = getattr(sf, name).describe()
        problems += [f"{name}.{k}" for k in _missing(body, DOCUMENTED_OBJECT_KEYS)]
        for fdef in body["fields"]:
            problems += [f"{name}.{fdef['name']}.{k}" for k in _missing(fdef, DOCUMENTED_FIELD_KEYS)]
            for value in fdef["picklistValues"]:
                problems += [
                    f"{name}.{fdef['name']} picklist {k}" for k in _missing(value, PICKLIST_ENTRY_KEYS)
                ]
        for child in body["childRelationships"]:
            problems += [f"{name} child {k}" for k in _missing(child, CHILD_RELATIONSHIP_KEYS)]
        for info in body["recordTypeInfos"]:
            problems += [f"{name} record type {k}" for k in _missing(info, RECORD_TYPE_KEYS)]
    assert problems == []


def test_describe_values_follow_the_field_types(sf: Salesforce) -> None:
    task = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert task["Subject"]["byteLength"] == 3 * task["Subject"]["length"] == 765
    assert (task["Id"]["length"], task["Id"]["byteLength"], task["Id"]["soapType"]) == (18, 18, "tns:ID")
    assert task["ActivityDate"]["length"] == task["ActivityDate"]["byteLength"] == 0
    assert task["CallDurationInSeconds"]["digits"] > 0
    assert task["CallDurationInSeconds"]["soapType"] == "xsd:int"
    # a long text area can be neither filtered, sorted nor grouped
    assert task["Description"]["filterable"] is task["Description"]["sortable"] is False
    assert task["Description"]["groupable"] is False
    assert task["IsClosed"]["defaultValue"] is False
    assert task["IsClosed"]["nillable"] is False
    assert task["WhatId"]["polymorphicForeignKey"] is task["WhatId"]["namePointing"] is True
    assert task["Subject"]["nameField"] is True
    assert all(f["compoundFieldName"] is None for f in task.values())
    assert task["CompletedDateTime"]["groupable"] is False
    opportunity = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert (opportunity["Amount"]["precision"], opportunity["Amount"]["scale"]) == (18, 2)
    assert (opportunity["Probability"]["precision"], opportunity["Probability"]["scale"]) == (3, 0)
    contact = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert contact["FirstName"]["compoundFieldName"] == contact["LastName"]["compoundFieldName"] == "Name"


def test_picklist_values_are_the_standard_values_and_those_in_the_org(
    sf: Salesforce, emulator_org: Path
) -> None:
    task = {f["name"]: f for f in sf.Task.describe()["fields"]}
    status = [v["value"] for v in task["Status"]["picklistValues"]]
    assert set(_column(emulator_org, "Task", "Status")) - {""} <= set(status)
    assert {"Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"} <= set(status)
    defaults = [v["value"] for v in task["Status"]["picklistValues"] if v["defaultValue"]]
    assert defaults == ["Not Started"]
    assert task["Subject"]["picklistValues"] == []
    stages = sorted(
        zip(
            (int(x) for x in _column(emulator_org, "OpportunityStage", "SortOrder")),
            _column(emulator_org, "OpportunityStage", "ApiName"),
            strict=True,
        )
    )
    stage_field = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}["StageName"]
    assert [v["value"] for v in stage_field["picklistValues"]] == [name for _, name in stages]
    assert stage_field["restrictedPicklist"] is True


def test_child_relationships_and_record_types(sf: Salesforce) -> None:
    account = sf.Account.describe()
    children = {(c["childSObject"], c["field"]): c["relationshipName"] for c in account["childRelationships"]}
    assert children[("Opportunity", "AccountId")] == "Opportunities"
    assert children[("Contact", "AccountId")] == "Contacts"
    assert children[("Task", "WhatId")] == "Tasks"
    user_children = {(c["childSObject"], c["field"]) for c in sf.User.describe()["childRelationships"]}
    assert {("User", "ManagerId"), ("Opportunity", "OwnerId"), ("Task", "OwnerId")} <= user_children
    assert [r["developerName"] for r in account["recordTypeInfos"]] == ["Master"]
    assert sf.OpportunityHistory.describe()["recordTypeInfos"] == []


def test_limits_serve_every_documented_limit(sf: Salesforce) -> None:
    limits = sf.limits()
    assert _missing(limits, DOCUMENTED_LIMITS) == []
    assert all(0 <= v["Remaining"] <= v["Max"] for v in limits.values())
    assert limits["DailyBulkApiBatches"]["Max"] == 15000
