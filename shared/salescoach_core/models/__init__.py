"""Table models, one module per concern, each loaded when one of its names is first used.

`from salescoach_core.models import ApiKey` loads the API key tables and no other: a command
that touches two tables does not build the SQLModel classes of all of them (`salescoach apikey
create`, tests/cli/test_startup.py). `metadata`, the one object that must describe every table
(migrations, schema drift), loads every module first. No model refers to another module's
class (foreign keys name tables by string), so each module maps on its own.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Each public name and the module that defines it.
_MODULES = {
    "DEFAULT_SCOPE": "activity_requirements",
    "ActivityRequirement": "activity_requirements",
    "ApiKey": "auth",
    "RateLimitWindow": "auth",
    "NAMING_CONVENTION": "base",
    "ActionItem": "coaching",
    "CoachingGoal": "coaching",
    "CoachingSession": "coaching",
    "GoalStatusChange": "coaching",
    "WritebackOutbox": "coaching",
    "DomainEvent": "integrations",
    "IdempotencyRecord": "integrations",
    "WebhookDelivery": "integrations",
    "WebhookEndpoint": "integrations",
    "Quota": "quotas",
    "SfEvent": "salesforce",
    "SfOpportunity": "salesforce",
    "SfOpportunityHistory": "salesforce",
    "SfOpportunityStage": "salesforce",
    "SfTask": "salesforce",
    "SfUser": "salesforce",
    "SyncApiUsage": "sync_state",
    "SyncState": "sync_state",
}


def __getattr__(name: str) -> Any:
    if name == "metadata":
        for module in set(_MODULES.values()):
            import_module(f"{__name__}.{module}")
        value: Any = import_module(f"{__name__}.base").metadata
    elif name in _MODULES:
        value = getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


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
