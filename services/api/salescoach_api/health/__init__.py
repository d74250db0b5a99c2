"""Liveness, readiness and metrics endpoints for orchestrators and monitoring."""
