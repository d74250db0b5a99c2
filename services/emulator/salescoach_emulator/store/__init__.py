"""The org store: CSV folder in, SQLite working copy, queries and writes (one module per concern)."""
