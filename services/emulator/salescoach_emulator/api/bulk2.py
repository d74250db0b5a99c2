"""Bulk API 2.0 query jobs (``/jobs/query``): create, list, get, abort, delete, and results as
CSV pages behind ``Sforce-Locator``."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from salescoach_emulator.api.common import ApiError, json_body, json_response
from salescoach_emulator.faults import QUERY_TIMEOUT
from salescoach_emulator.soql import CompiledQuery
from salescoach_emulator.store.codecs import rest_datetime
from salescoach_emulator.store.results import ResultSet

if TYPE_CHECKING:
    from salescoach_emulator.server import Emulator

log = structlog.get_logger(__name__)


@dataclass
class QueryJob:
    """A Bulk API 2.0 query job."""

    id: str
    operation: str
    object: str
    soql: str
    api_version: str
    created: str
    compiled: CompiledQuery
    state: str = "UploadComplete"
    modstamp: str = ""
    result: ResultSet | None = None
    error: str | None = None
    processing_ms: int = 0

    def info(self, created_by: str, *, detailed: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": created_by,
            "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
        if detailed:
            body.update(
                jobType="V2Query",
                numberRecordsProcessed=self.result.total if self.result else 0,
                retries=0,
                totalProcessingTime=self.processing_ms,
                isPkChunkingSupported=False,
            )
            if self.error:
                body["errorMessage"] = self.error
        return body


class Bulk2:
    """The Bulk API 2.0 query service of one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = emulator.store
        self.jobs: dict[str, QueryJob] = {}
        self._job_tasks: set[asyncio.Task[None]] = set()

    def routes(self, v: str) -> list[Route]:
        api = self.emulator.api
        jobs = f"{v}/jobs/query"
        return [
            Route(jobs, api("bulk_jobs")(self.bulk_jobs), methods=["GET", "POST"]),
            Route(f"{jobs}/{{job_id}}", api("bulk_job")(self.bulk_job), methods=["GET", "PATCH", "DELETE"]),
            Route(f"{jobs}/{{job_id}}/results", api("bulk_results")(self.bulk_results), methods=["GET"]),
        ]

    async def bulk_jobs(self, request: Request) -> Response:
        version = request.path_params["version"]
        if request.method == "GET":
            records = [j.info(self.store.user_id, detailed=False) for j in self.jobs.values()]
            return json_response({"done": True, "records": records, "nextRecordsUrl": None})
        data = await json_body(request)
        operation = data.get("operation") if isinstance(data, dict) else None
        if operation not in ("query", "queryAll"):
            raise ApiError(400, "INVALIDJOB", "InvalidJob : operation must be query or queryAll")
        soql = data.get("query")
        if not isinstance(soql, str):
            raise ApiError(400, "INVALIDJOB", "InvalidJob : query is required")
        for key, allowed in (("columnDelimiter", "COMMA"), ("lineEnding", "LF"), ("contentType", "CSV")):
            if data.get(key, allowed) != allowed:
                raise ApiError(400, "FEATURENOTENABLED", f"the emulator supports {key}={allowed} only")
        compiled = await run_in_threadpool(self.store.compile, soql)
        if compiled.count_only:
            raise ApiError(400, "API_ERROR", "Aggregate queries are not supported by Bulk API 2.0")
        job = QueryJob(
            id=self.store.minter.new_id("750"),
            operation=operation,
            object=compiled.object.name,
            soql=soql,
            api_version=version,
            created=rest_datetime(self.store.clock()),
            compiled=compiled,
        )
        self.jobs[job.id] = job
        task = asyncio.get_running_loop().create_task(self._process_job(job))
        self._job_tasks.add(task)
        task.add_done_callback(self._job_tasks.discard)
        return json_response(job.info(self.store.user_id, detailed=False))

    async def _process_job(self, job: QueryJob) -> None:
        started = time.perf_counter()
        job.state = "InProgress"
        try:
            result = await run_in_threadpool(
                functools.partial(
                    self.store.results.materialize,
                    job.compiled,
                    include_deleted=job.operation == "queryAll",
                    prefix="750",
                )
            )
        except Exception as exc:  # a failed job reports its error, as Salesforce does
            job.state, job.error = "Failed", str(exc)
            log.warning("emulator.bulk_job_failed", job_id=job.id, error=str(exc))
            return
        job.processing_ms = int((time.perf_counter() - started) * 1000)
        if self.emulator.faults.query_times_out(result.total) and job.state != "Aborted":
            # The `querytimeout` fault: a query that selects too much runs out of time, as on a
            # large org; a narrower (SystemModstamp) window gets through.
            self.store.results.drop(result.locator)
            job.state = "Failed"
            job.error = QUERY_TIMEOUT
            log.warning("emulator.bulk_job_failed", job_id=job.id, error=job.error)
            return
        if job.state == "Aborted":
            self.store.results.drop(result.locator)
            return
        job.result = result
        job.modstamp = rest_datetime(self.store.clock())
        job.state = "JobComplete"
        log.info("emulator.bulk_job_complete", job_id=job.id, rows=result.total, ms=job.processing_ms)

    def _job(self, request: Request) -> QueryJob:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    async def bulk_job(self, request: Request) -> Response:
        job = self._job(request)
        if request.method == "GET":
            return json_response(job.info(self.store.user_id, detailed=True))
        if request.method == "DELETE":
            if job.state in ("UploadComplete", "InProgress"):
                raise ApiError(400, "INVALIDJOBSTATE", "Cannot delete a job that is in progress")
            self.jobs.pop(job.id, None)
            if job.result is not None:
                await run_in_threadpool(self.store.results.drop, job.result.locator)
            return Response(status_code=204)
        data = await json_body(request)
        if data.get("state") != "Aborted":
            raise ApiError(400, "INVALIDJOBSTATE", "A query job can only be set to Aborted")
        if job.state in ("JobComplete", "Failed", "Aborted"):
            raise ApiError(400, "INVALIDJOBSTATE", f"Cannot abort a job in state {job.state}")
        job.state = "Aborted"
        job.modstamp = rest_datetime(self.store.clock())
        return json_response(job.info(self.store.user_id, detailed=False))

    async def bulk_results(self, request: Request) -> Response:
        job = self._job(request)
        if job.state != "JobComplete" or job.result is None:
            raise ApiError(400, "INVALIDJOBSTATE", f"Job is in state {job.state}; results are not available")
        result = job.result
        start = 0
        locator = request.query_params.get("locator")
        if locator and locator != "null":
            try:
                start = int(base64.urlsafe_b64decode(locator + "=" * (-len(locator) % 4)).decode())
            except (ValueError, binascii.Error):
                raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None
        max_records = request.query_params.get("maxRecords")
        if max_records is not None and (not max_records.isdigit() or int(max_records) < 1):
            raise ApiError(400, "INVALIDMAXRECORDS", "maxRecords must be a positive integer")
        # Without maxRecords the whole remaining result comes in one streamed response.
        count = min(int(max_records) if max_records else result.total, max(0, result.total - start))
        end = start + count
        next_locator = (
            base64.urlsafe_b64encode(str(end).encode()).decode().rstrip("=") if end < result.total else "null"
        )
        headers = {"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(count)}
        # Starlette pulls a sync iterator in the thread pool, so SQLite and csv work stay off
        # the event loop, one chunk at a time.
        chunks: Iterator[bytes] = self.store.results.stream_csv(result, start, count)
        return StreamingResponse(chunks, media_type="text/csv", headers=headers)
