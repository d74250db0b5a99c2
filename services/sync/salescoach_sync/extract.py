"""Reading from Salesforce: Bulk API 2.0 query jobs (create, poll fast then back off, stream
the CSV result page by page). REST query pages go to PostgreSQL as JSON (Loader.merge_rest_page).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from salescoach_sync.client import ResultPage, SalesforceClient
from salescoach_sync.errors import SalesforceRequestError, SyncInterrupted

log = structlog.get_logger(__name__)

# Jobs on small objects finish in well under a second; a fixed multi-second first sleep
# (simple-salesforce waits 5 s) would dominate incremental syncs. Polls start at 25 ms and
# grow by half each time up to 2 s: a job done in 0.1 s is seen done after 0.12 s (doubling
# from 50 ms saw it after 0.35 s), for about five more status calls on a job that takes minutes.
POLL_FIRST_SECONDS = 0.025
POLL_GROWTH = 1.5
POLL_MAX_SECONDS = 2.0


class StopToken:
    """Set by SIGTERM (or a test); checked between pages and polls."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def request(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise SyncInterrupted("stop requested; the object in progress was rolled back to its checkpoint")

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when a stop was requested meanwhile."""
        return self._event.wait(seconds)


def bulk_query(
    client: SalesforceClient,
    soql: str,
    *,
    include_deleted: bool,
    consume_page: Callable[[ResultPage], int],
    stop: StopToken,
    page_records: int,
    on_total: Callable[[int | None], None] | None = None,
) -> int:
    """Run a Bulk API 2.0 query job and hand each result page to `consume_page` (which must
    be repeatable: a page that fails mid-stream is fetched again). Returns the record count.

    Large pages mean fewer API calls; memory does not grow with them, since each page streams
    straight into COPY."""
    job = client.create_query_job(soql, include_deleted=include_deleted)
    job_id = str(job["id"])
    log.debug("bulk_job_created", job_id=job_id, operation=job.get("operation"))
    try:
        info = _wait_for_job(client, job_id, stop)
        total = info.get("numberRecordsProcessed")
        if on_total is not None:
            on_total(int(total) if total is not None else None)
        rows = 0
        locator: str | None = None
        while True:
            stop.check()
            count, locator = client.query_job_results(
                job_id,
                locator=locator,
                max_records=page_records,
                consume=lambda page: (consume_page(page), page.next_locator),
            )
            rows += count
            if locator is None:
                return rows
    finally:
        _delete_job(client, job_id)


def _wait_for_job(client: SalesforceClient, job_id: str, stop: StopToken) -> dict[str, Any]:
    delay = POLL_FIRST_SECONDS
    while True:
        info = client.query_job(job_id)
        state = info.get("state")
        if state == "JobComplete":
            return info
        if state in ("Failed", "Aborted"):
            message = str(info.get("errorMessage") or "")
            code = "QUERY_TIMEOUT" if "timeout" in message.lower() else None
            raise SalesforceRequestError(
                f"Bulk query job {job_id} ended {state}: {message or 'no message'}", error_code=code
            )
        if stop.wait(delay):
            stop.check()
        delay = min(delay * POLL_GROWTH, POLL_MAX_SECONDS)


def _delete_job(client: SalesforceClient, job_id: str) -> None:
    """Free the job's result storage; best effort (Salesforce deletes jobs after 7 days anyway)."""
    try:
        client.delete_query_job(job_id)
    except Exception as exc:  # never hide the error that ended the job
        log.info("bulk_job_not_deleted", job_id=job_id, error=str(exc))
