"""Table models. Importing this package registers every table on `metadata`."""

from salescoach_core.models.auth import ApiKey
from salescoach_core.models.base import NAMING_CONVENTION, metadata
from salescoach_core.models.quotas import Quota
from salescoach_core.models.salesforce import (
    SfEvent,
    SfOpportunity,
    SfOpportunityHistory,
    SfOpportunityStage,
    SfTask,
    SfUser,
)
from salescoach_core.models.sync_state import SyncState

__all__ = [
    "ApiKey",
    "NAMING_CONVENTION",
    "Quota",
    "SfEvent",
    "SfOpportunity",
    "SfOpportunityHistory",
    "SfOpportunityStage",
    "SfTask",
    "SfUser",
    "SyncState",
    "metadata",
]
