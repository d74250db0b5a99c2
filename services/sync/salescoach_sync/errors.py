"""The sync worker's exceptions. Each has a stable `code`; the message says what to do."""

from __future__ import annotations

from typing import ClassVar


class SyncError(Exception):
    """A sync that cannot go on. `code` is stable (status, logs); the message is for people."""

    code: ClassVar[str] = "sync_failed"


class NotConfiguredError(SyncError):
    code = "salesforce_not_configured"


class SalesforceAuthError(SyncError):
    """Salesforce refused the credentials: retrying cannot help."""

    code = "salesforce_auth_failed"


class SalesforceAccessError(SyncError):
    """An object or required field is not visible to the integration user."""

    code = "salesforce_access_denied"


class SalesforceRequestError(SyncError):
    """Salesforce rejected a request for a reason retrying cannot fix (e.g. MALFORMED_QUERY)."""

    code = "salesforce_request_failed"

    def __init__(self, message: str, *, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code


class QueryTimeoutError(SyncError):
    """QUERY_TIMEOUT even on the smallest SystemModstamp window the sync splits down to."""

    code = "query_timeout"


class SalesforceUnavailableError(SyncError):
    """Salesforce kept failing (5xx, timeouts, dropped connections) after every retry."""

    code = "salesforce_unavailable"


class QuotaStop(SyncError):
    """The API quota guard stopped the sync before the org's daily limit; checkpoints are kept."""

    code = "api_quota_guard"


class SyncInterrupted(SyncError):
    """A stop was requested (SIGTERM); the object in progress was rolled back to its checkpoint."""

    code = "interrupted"


class TransientError(Exception):
    """A failure worth retrying: 5xx, timeout, dropped connection, UNABLE_TO_LOCK_ROW."""


class SessionExpiredError(Exception):
    """INVALID_SESSION_ID: the access token expired or was revoked."""
