"""Integrations: the domain event log, the events feed, webhooks and BI exports."""
