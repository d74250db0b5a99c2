"""The org limits ``/limits`` serves: every standard limit the REST reference lists, with an
Enterprise Edition org's allocations; the ones the emulator meters count down."""

from __future__ import annotations

# Allocation of each limit the emulator does not meter (Remaining = Max).
STATIC_LIMITS: dict[str, int] = {
    "ActiveScratchOrgs": 3,
    "AnalyticsExternalDataSizeMB": 40960,
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentEinsteinDataInsightsStoryCreation": 5,
    "ConcurrentEinsteinDiscoveryStoryCreation": 2,
    "ConcurrentSyncReportRuns": 20,
    "DailyAnalyticsDataflowJobExecutions": 60,
    "DailyAnalyticsUploadedFilesSizeMB": 51200,
    "DailyAsyncApexExecutions": 250000,
    "DailyAsyncApexTests": 500,
    "DailyBulkV2QueryFileStorageMB": 976562,
    "DailyDeliveredPlatformEvents": 10000,
    "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000,
    "DailyEinsteinDataInsightsStoryCreation": 1000,
    "DailyEinsteinDiscoveryPredictAPICalls": 50000,
    "DailyEinsteinDiscoveryPredictionsByCDC": 5000000,
    "DailyEinsteinDiscoveryStoryCreation": 100,
    "DailyFunctionsApiCallLimit": 235000,
    "DailyGenericStreamingApiEvents": 10000,
    "DailyScratchOrgs": 6,
    "DailyStandardVolumePlatformEvents": 10000,
    "DailyStreamingApiEvents": 10000,
    "DailyWorkflowEmails": 390000,
    "DataStorageMB": 1024,
    "DurableStreamingApiConcurrentClients": 20,
    "FileStorageMB": 1024,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999999999,
    "HourlyLongTermIdMapping": 100000,
    "HourlyManagedContentPublicRequests": 50000,
    "HourlyODataCallout": 20000,
    "HourlyPublishedPlatformEvents": 50000,
    "HourlyPublishedStandardVolumePlatformEvents": 1000,
    "HourlyShortTermIdMapping": 100000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 1000,
    "MassEmail": 5000,
    "MonthlyEinsteinDiscoveryStoryCreation": 500,
    "Package2VersionCreates": 6,
    "Package2VersionCreatesWithoutValidation": 500,
    "SingleEmail": 5000,
    "StreamingApiConcurrentClients": 20,
}
DAILY_BULK_API_BATCHES = 15000
DAILY_BULK_V2_QUERY_JOBS = 10000


def org_limits(
    *, api_used: int, api_max: int, bulk1_batches: int, bulk2_jobs: int
) -> dict[str, dict[str, int]]:
    """The ``/limits`` body: ``{"Name": {"Max": m, "Remaining": r}}`` in name order."""
    metered = {
        "DailyApiRequests": (api_max, api_used),
        "DailyBulkApiBatches": (DAILY_BULK_API_BATCHES, bulk1_batches),
        "DailyBulkV2QueryJobs": (DAILY_BULK_V2_QUERY_JOBS, bulk2_jobs),
    }
    body = {name: {"Max": limit, "Remaining": limit} for name, limit in STATIC_LIMITS.items()}
    for name, (limit, used) in metered.items():
        body[name] = {"Max": limit, "Remaining": max(0, limit - used)}
    return dict(sorted(body.items()))
