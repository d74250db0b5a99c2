"""Coaching: goals, sessions, action items, the diagnosis, and the write-back outbox (docs/domain.md)."""
