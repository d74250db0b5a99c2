"""The salescoach REST API (FastAPI)."""
