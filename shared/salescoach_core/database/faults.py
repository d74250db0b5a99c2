"""Which exceptions mean the database cannot answer now (as opposed to a bug), and how."""

from __future__ import annotations

from enum import StrEnum

import psycopg
from sqlalchemy import exc as sa_exc

from salescoach_core.database.engine import DatabaseUnavailableError


class DatabaseFault(StrEnum):
    """`unavailable`: no connection could be made. `busy`: a connection, a lock or a statement
    did not finish in its time bound. Both are worth retrying; neither is the caller's fault."""

    UNAVAILABLE = "database_unavailable"
    BUSY = "database_busy"


_BUSY_DRIVER_ERRORS = (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)


def classify_database_fault(exc: BaseException) -> DatabaseFault | None:
    """The fault `exc` stands for, or None when it is not a database outage or time-out."""
    if isinstance(exc, sa_exc.TimeoutError):
        return DatabaseFault.BUSY
    if isinstance(exc, DatabaseUnavailableError):
        return DatabaseFault.UNAVAILABLE
    if isinstance(exc, sa_exc.DBAPIError):
        if isinstance(exc.orig, _BUSY_DRIVER_ERRORS):
            return DatabaseFault.BUSY
        if isinstance(exc, sa_exc.OperationalError) or exc.connection_invalidated:
            return DatabaseFault.UNAVAILABLE
        return None
    if isinstance(exc, _BUSY_DRIVER_ERRORS):
        return DatabaseFault.BUSY
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseFault.UNAVAILABLE
    return None
