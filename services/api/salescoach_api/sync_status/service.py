"""Reading the sync state rows: the queries live in salescoach_core, which the CLI shares."""

from salescoach_core.sync_status import api_usage_today, list_sync_states

__all__ = ["api_usage_today", "list_sync_states"]
