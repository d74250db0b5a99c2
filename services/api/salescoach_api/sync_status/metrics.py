"""`/metrics` gauges of the sync worker's API budget, read from `sync_api_usage` at scrape time
(the worker is another process; the table is what both share)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import Session

from salescoach_core.database import Database
from salescoach_core.sync_status import api_usage_today

log = structlog.get_logger(__name__)


class SyncBudgetCollector(Collector):
    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with Session(self._database.engine()) as session:
                usage = api_usage_today(session, datetime.now(UTC))
        except Exception as exc:
            # A scrape must not fail because the database is away: /readyz says so.
            log.warning("sync_budget_metrics_unavailable", error=type(exc).__name__)
            return
        figures = {
            "salescoach_sync_api_calls_today": (
                "Salesforce API calls the sync worker made today (UTC).",
                usage.calls if usage else 0,
            ),
            "salescoach_sync_api_calls_projected": (
                "Calls today plus the rest of the day at the worker's current pace.",
                usage.projected_calls if usage else None,
            ),
            "salescoach_sync_api_call_budget": (
                "The worker's daily API call budget (absent when none is set).",
                usage.budget if usage else None,
            ),
            "salescoach_sync_interval_seconds": (
                "The pause between sync passes the worker now keeps.",
                usage.interval_seconds if usage else None,
            ),
        }
        for name, (documentation, value) in figures.items():
            if value is not None:
                yield GaugeMetricFamily(name, documentation, value=float(value))
