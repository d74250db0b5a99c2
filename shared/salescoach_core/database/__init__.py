"""PostgreSQL access: the server (external or embedded), the engine and sessions."""

from salescoach_core.database.engine import (
    Database,
    DatabaseUnavailableError,
    database_url,
    lock_row,
    session_scope,
    to_sqlalchemy_url,
)
from salescoach_core.database.faults import DatabaseFault, classify_database_fault

__all__ = [
    "Database",
    "DatabaseFault",
    "DatabaseUnavailableError",
    "classify_database_fault",
    "database_url",
    "lock_row",
    "session_scope",
    "to_sqlalchemy_url",
]
