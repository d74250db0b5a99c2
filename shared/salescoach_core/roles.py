"""The roles a caller of the API can hold (docs/auth.md, "Roles")."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    """Everything, including API key management."""
    MANAGER = "manager"
    """The reps in their org: the transitive closure of User.ManagerId under them, and themselves."""
    REP = "rep"
    """Their own records only."""
    INTEGRATION = "integration"
    """Read-only on everything, plus the event and export feeds (BI)."""

    @property
    def needs_sf_user(self) -> bool:
        """Roles whose scope is defined by a Salesforce User Id."""
        return self in (Role.MANAGER, Role.REP)
