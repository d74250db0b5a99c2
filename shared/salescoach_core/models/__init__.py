"""Table models. Importing this package registers every table on `metadata`."""

from salescoach_core.models.activity_requirements import DEFAULT_SCOPE, ActivityRequirement
from salescoach_core.models.auth import ApiKey, RateLimitWindow
from salescoach_core.models.base import NAMING_CONVENTION, metadata
from salescoach_core.models.coaching import (
    ActionItem,
    CoachingGoal,
    CoachingSession,
    GoalStatusChange,
    WritebackOutbox,
)
from salescoach_core.models.integrations import (
    DomainEvent,
    IdempotencyRecord,
    WebhookDelivery,
    WebhookEndpoint,
)
from salescoach_core.models.quotas import Quota
from salescoach_core.models.salesforce import (
    SfEvent,
    SfOpportunity,
    SfOpportunityHistory,
    SfOpportunityStage,
    SfTask,
    SfUser,
)
from salescoach_core.models.sync_state import SyncApiUsage, SyncState

__all__ = [
    "DEFAULT_SCOPE",
    "NAMING_CONVENTION",
    "ActionItem",
    "ActivityRequirement",
    "ApiKey",
    "CoachingGoal",
    "CoachingSession",
    "DomainEvent",
    "GoalStatusChange",
    "IdempotencyRecord",
    "Quota",
    "RateLimitWindow",
    "SfEvent",
    "SfOpportunity",
    "SfOpportunityHistory",
    "SfOpportunityStage",
    "SfTask",
    "SfUser",
    "SyncApiUsage",
    "SyncState",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WritebackOutbox",
    "metadata",
]
