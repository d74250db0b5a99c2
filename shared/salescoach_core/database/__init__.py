"""PostgreSQL access: the server (external or embedded), the engine and sessions."""

from salescoach_core.database.engine import (
    Database,
    DatabaseUnavailableError,
    database_url,
    lock_row,
    session_scope,
    to_sqlalchemy_url,
)

__all__ = [
    "Database",
    "DatabaseUnavailableError",
    "database_url",
    "lock_row",
    "session_scope",
    "to_sqlalchemy_url",
]
