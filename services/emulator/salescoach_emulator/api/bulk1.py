"""Bulk API 1.0 queries (``/services/async/{version}/job...``): jobs, SOQL batches, PK chunking,
batch results in CSV or JSON, and Bulk 1.0's XML / JSON error bodies.

Formats follow the Bulk API guide: a job request's own content type picks the job body's format;
batch bodies, batch lists and result lists follow the job's ``contentType`` (XML for CSV jobs).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from salescoach_emulator.faults import QUERY_TIMEOUT
from salescoach_emulator.soql import CompiledQuery, SoqlError, format_datetime, parse_datetime_literal
from salescoach_emulator.store.codecs import rest_datetime
from salescoach_emulator.store.results import ResultSet

if TYPE_CHECKING:
    from salescoach_emulator.server import Emulator

log = structlog.get_logger(__name__)

NAMESPACE = "http://www.force.com/2009/06/asyncapi/dataload"
DEFAULT_CHUNK_SIZE = 100_000
MAX_CHUNK_SIZE = 250_000
# Salesforce splits a batch's result into files of up to 1 GB; the emulator splits by rows.
RESULT_ROWS = 100_000
# A status request waits this long for a running batch, sparing clients a 5-60 s poll sleep.
STATUS_WAIT_SECONDS = 1.0
NO_RECORDS = "Records not found for this query"
_CONTENT_TYPES = {"CSV", "JSON"}


class Bulk1Error(Exception):
    """``{exceptionCode, exceptionMessage}``, answered as XML or JSON (HTTP 400 unless said)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Batch:
    id: str
    job_id: str
    soql: str
    created: datetime
    state: str = "Queued"
    state_message: str | None = None
    modstamp: datetime | None = None
    processed: int = 0
    processing_ms: int = 0
    id_range: tuple[str | None, str | None] | None = None
    result: ResultSet | None = None
    result_ids: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


@dataclass
class Job:
    id: str
    operation: str
    object: str
    content_type: str
    concurrency: str
    api_version: str
    created: datetime
    chunk_size: int | None = None
    start_row: str | None = None
    state: str = "Open"
    modstamp: datetime | None = None
    batches: dict[str, Batch] = field(default_factory=dict)
    retries: int = 0


class Bulk1:
    """The Bulk API 1.0 query service of one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = emulator.store
        self.jobs: dict[str, Job] = {}
        self.batches_created = 0

    def routes(self) -> list[Route]:
        base = "/services/async/{version}/job"
        table = [
            (base, self.create_job, ["POST"]),
            (f"{base}/{{job_id}}", self.job, ["GET", "POST"]),
            (f"{base}/{{job_id}}/batch", self.batches, ["GET", "POST"]),
            (f"{base}/{{job_id}}/batch/{{batch_id}}", self.batch, ["GET"]),
            (f"{base}/{{job_id}}/batch/{{batch_id}}/request", self.batch_request, ["GET"]),
            (f"{base}/{{job_id}}/batch/{{batch_id}}/result", self.result_list, ["GET"]),
            (f"{base}/{{job_id}}/batch/{{batch_id}}/result/{{result_id}}", self.result, ["GET"]),
        ]
        return [Route(path, self._wrap(handler), methods=methods) for path, handler, methods in table]

    # ------------------------------------------------------------------ plumbing

    def _wrap(self, handler: Any) -> Any:
        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            self.emulator.stats.handlers[f"bulk1_{handler.__name__}"] += 1
            try:
                self.emulator.check_version(request)
                self._authenticate(request)
                response: Response = await handler(request)
                return response
            except Bulk1Error as exc:
                return self._error(request, exc)

        return wrapped

    def _authenticate(self, request: Request) -> None:
        # Bulk 1.0 reads the session from X-SFDC-Session; an OAuth token works there too.
        token = request.headers.get("x-sfdc-session", "")
        if not token:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() not in ("bearer", "oauth"):
                token = ""
        if not self.emulator.session_valid(request, token):
            raise Bulk1Error("InvalidSessionId", "Invalid session id")

    @staticmethod
    def _request_json(request: Request) -> bool:
        kinds = request.headers.get("content-type", "") + request.headers.get("accept", "")
        return "json" in kinds.lower()

    def _wants_json(self, request: Request) -> bool:
        """Job bodies follow the request's content type; batch bodies the job's."""
        job = self.jobs.get(request.path_params.get("job_id", ""))
        batch_level = "batch_id" in request.path_params or request.url.path.endswith("/batch")
        if batch_level and job is not None:
            return job.content_type == "JSON"
        return self._request_json(request)

    def _error(self, request: Request, exc: Bulk1Error) -> Response:
        if self._wants_json(request):
            body = {"exceptionCode": exc.code, "exceptionMessage": exc.message}
            return Response(json.dumps(body), exc.status, media_type="application/json")
        return _xml("error", {"exceptionCode": exc.code, "exceptionMessage": exc.message}, exc.status)

    def _job(self, request: Request) -> Job:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            raise Bulk1Error("InvalidJob", f"Unable to find object: {request.path_params['job_id']}")
        return job

    def _batch(self, request: Request) -> tuple[Job, Batch]:
        job = self._job(request)
        batch = job.batches.get(request.path_params["batch_id"])
        if batch is None:
            raise Bulk1Error("InvalidBatch", f"Unable to find batch: {request.path_params['batch_id']}")
        return job, batch

    # ------------------------------------------------------------------ jobs

    async def create_job(self, request: Request) -> Response:
        data = self._parse_job_body(request, await request.body())
        operation = data.get("operation", "")
        if operation not in ("query", "queryAll"):
            raise Bulk1Error(
                "FeatureNotEnabled", f"operation {operation!r}: the emulator serves Bulk API 1.0 queries only"
            )
        obj = self.store.get_object(str(data.get("object", "")))
        if obj is None:
            raise Bulk1Error("InvalidJob", f"Unable to find object: {data.get('object', '')}")
        content_type = str(data.get("contentType") or "XML")
        if content_type not in _CONTENT_TYPES:
            raise Bulk1Error(
                "FeatureNotEnabled", f"contentType {content_type}: the emulator serves CSV and JSON results"
            )
        chunk_size, start_row = self._pk_chunking(request.headers.get("sforce-enable-pkchunking"))
        now = self.store.clock()
        # simple-salesforce sends concurrencyMode 0/1 for Parallel/Serial.
        concurrency = "Serial" if str(data.get("concurrencyMode")) in ("Serial", "1") else "Parallel"
        job = Job(
            id=self.store.minter.new_id("750"),
            operation=operation,
            object=obj.name,
            content_type=content_type,
            concurrency=concurrency,
            api_version=request.path_params["version"],
            created=now,
            chunk_size=chunk_size,
            start_row=start_row,
        )
        self.jobs[job.id] = job
        log.info("emulator.bulk1_job_created", job_id=job.id, object=job.object, pk_chunking=chunk_size)
        return self._job_response(request, job, status=201)

    @staticmethod
    def _parse_job_body(request: Request, raw: bytes) -> dict[str, Any]:
        kind = request.headers.get("content-type", "").lower()
        try:
            if "json" in kind:
                data = json.loads(raw or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                return data
            root = ET.fromstring(raw)  # noqa: S314 - expat resolves no external entities
            return {child.tag.rpartition("}")[2]: (child.text or "").strip() for child in root}
        except (ValueError, ET.ParseError) as exc:
            raise Bulk1Error("InvalidJob", f"Unable to parse the job request: {exc}") from None

    @staticmethod
    def _pk_chunking(header: str | None) -> tuple[int | None, str | None]:
        """``Sforce-Enable-PKChunking: true`` or ``chunkSize=50000; startRow=001...``."""
        if header is None or header.strip().lower() == "false":
            return None, None
        options: dict[str, str] = {}
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            options[key.strip().lower()] = value.strip()
        size_text = options.get("chunksize", str(DEFAULT_CHUNK_SIZE))
        if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_CHUNK_SIZE:
            raise Bulk1Error("InvalidJob", f"Invalid chunkSize {size_text}: the maximum is {MAX_CHUNK_SIZE}")
        return int(size_text), options.get("startrow") or None

    async def job(self, request: Request) -> Response:
        job = self._job(request)
        if request.method == "GET":
            return self._job_response(request, job)
        data = self._parse_job_body(request, await request.body())
        state = data.get("state")
        if state not in ("Closed", "Aborted"):
            raise Bulk1Error("InvalidJobState", f"Invalid state {state!r}: a job can be Closed or Aborted")
        if job.state != "Open":
            raise Bulk1Error("InvalidJobState", f"Job {job.id} is {job.state}, not Open")
        job.state = str(state)
        job.modstamp = self.store.clock()
        if state == "Aborted":
            for batch in job.batches.values():
                if batch.state == "Queued":
                    batch.state = "NotProcessed"
                    batch.modstamp = job.modstamp
        return self._job_response(request, job)

    def _job_response(self, request: Request, job: Job, status: int = 200) -> Response:
        states = [b.state for b in job.batches.values()]
        body: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.object,
            "createdById": self.store.user_id,
            "createdDate": job.created,
            "systemModstamp": job.modstamp or job.created,
            "state": job.state,
            "concurrencyMode": job.concurrency,
            "contentType": job.content_type,
            "numberBatchesQueued": states.count("Queued"),
            "numberBatchesInProgress": states.count("InProgress"),
            "numberBatchesCompleted": states.count("Completed"),
            "numberBatchesFailed": states.count("Failed"),
            "numberBatchesTotal": len(states),
            "numberRecordsProcessed": sum(b.processed for b in job.batches.values()),
            "numberRetries": job.retries,
            "apiVersion": float(job.api_version),
            "numberRecordsFailed": 0,
            "totalProcessingTime": sum(b.processing_ms for b in job.batches.values()),
            "apiActiveProcessingTime": sum(b.processing_ms for b in job.batches.values()),
            "apexProcessingTime": 0,
        }
        if self._request_json(request):
            return _json(body, status)
        return _xml("jobInfo", body, status)

    # ------------------------------------------------------------------ batches

    async def batches(self, request: Request) -> Response:
        job = self._job(request)
        if request.method == "GET":
            await self._settle(job.batches.values())
            infos = [self._batch_body(b) for b in job.batches.values()]
            if job.content_type == "JSON":
                return _json({"batchInfo": infos})
            inner = "".join(_element("batchInfo", i, namespace=False) for i in infos)
            return _xml_raw(f'<batchInfoList xmlns="{NAMESPACE}">{inner}</batchInfoList>')
        if job.state != "Open":
            raise Bulk1Error(
                "InvalidJobState", f"Job {job.id} is {job.state}, not Open: no batch can be added"
            )
        soql = (await request.body()).decode("utf-8", errors="replace").strip()
        batch = self._add_batch(job, soql)
        if job.chunk_size is not None:
            # PK chunking: the submitted batch is not run; one batch per Id range is.
            batch.state = "NotProcessed"
            bounds = await run_in_threadpool(
                self.store.id_boundaries, job.object, job.chunk_size, job.start_row
            )
            for low, high in zip(bounds, [*bounds[1:], None], strict=True):
                chunk = self._add_batch(job, _chunk_soql(soql, low, high))
                chunk.id_range = (low, high)
                self._start(job, chunk, soql)
        else:
            self._start(job, batch, soql)
        return self._batch_response(job, batch, status=201)

    def _add_batch(self, job: Job, soql: str) -> Batch:
        batch = Batch(
            id=self.store.minter.new_id("751"), job_id=job.id, soql=soql, created=self.store.clock()
        )
        job.batches[batch.id] = batch
        self.batches_created += 1
        return batch

    def _start(self, job: Job, batch: Batch, soql: str) -> None:
        batch.task = asyncio.get_running_loop().create_task(self._process(job, batch, soql))

    async def _process(self, job: Job, batch: Batch, soql: str) -> None:
        started = time.perf_counter()
        batch.state = "InProgress"
        try:
            compiled = await run_in_threadpool(self.store.compile, soql)
            self._check_query(job, compiled)
            result = await run_in_threadpool(
                functools.partial(
                    self.store.results.materialize,
                    compiled,
                    include_deleted=job.operation == "queryAll",
                    prefix="752",
                    id_range=batch.id_range,
                )
            )
        except SoqlError as exc:
            self._fail(batch, f"InvalidBatch : Failed to process query: {exc.error_code}: {exc.message}")
            return
        except Bulk1Error as exc:
            self._fail(batch, f"{exc.code} : {exc.message}")
            return
        if self.emulator.faults.query_times_out(result.total):
            # The `querytimeout` fault, as for Bulk 2.0: too many rows for one batch; PK
            # chunking or a narrower window gets through.
            await run_in_threadpool(self.store.results.drop, result.locator)
            self._fail(batch, f"InvalidBatch : Failed to process query: {QUERY_TIMEOUT}")
            return
        batch.result = result
        batch.processed = result.total
        batch.result_ids = [
            self.store.minter.new_id("752") for _ in range(max(1, -(-result.total // RESULT_ROWS)))
        ]
        batch.processing_ms = int((time.perf_counter() - started) * 1000)
        batch.modstamp = self.store.clock()
        batch.state = "Completed"
        log.info("emulator.bulk1_batch_complete", job_id=job.id, batch_id=batch.id, rows=result.total)

    def _fail(self, batch: Batch, message: str) -> None:
        batch.state, batch.state_message = "Failed", message
        batch.modstamp = self.store.clock()
        log.warning("emulator.bulk1_batch_failed", batch_id=batch.id, error=message)

    @staticmethod
    def _check_query(job: Job, compiled: CompiledQuery) -> None:
        if compiled.object.name != job.object:
            raise Bulk1Error(
                "InvalidBatch",
                f"Failed to process query: the query is on {compiled.object.name}, the job on {job.object}",
            )
        if compiled.count_only:
            raise Bulk1Error(
                "InvalidBatch", "Failed to process query: Aggregate queries are not supported by Bulk API"
            )

    @staticmethod
    async def _settle(batches: Any) -> None:
        running = [b.task for b in batches if b.task is not None and not b.task.done()]
        if running:
            await asyncio.wait(running, timeout=STATUS_WAIT_SECONDS)

    def _batch_body(self, batch: Batch) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": batch.id,
            "jobId": batch.job_id,
            "state": batch.state,
        }
        if batch.state_message is not None:
            body["stateMessage"] = batch.state_message
        body.update(
            createdDate=batch.created,
            systemModstamp=batch.modstamp or batch.created,
            numberRecordsProcessed=batch.processed,
            numberRecordsFailed=0,
            totalProcessingTime=batch.processing_ms,
            apiActiveProcessingTime=batch.processing_ms,
            apexProcessingTime=0,
        )
        return body

    def _batch_response(self, job: Job, batch: Batch, status: int = 200) -> Response:
        body = self._batch_body(batch)
        return _json(body, status) if job.content_type == "JSON" else _xml("batchInfo", body, status)

    async def batch(self, request: Request) -> Response:
        job, batch = self._batch(request)
        await self._settle([batch])
        return self._batch_response(job, batch)

    async def batch_request(self, request: Request) -> Response:
        _, batch = self._batch(request)
        return Response(batch.soql, media_type="text/plain")

    # ------------------------------------------------------------------ results

    async def result_list(self, request: Request) -> Response:
        job, batch = self._batch(request)
        self._check_completed(batch)
        if job.content_type == "JSON":
            return _json(batch.result_ids)
        inner = "".join(f"<result>{r}</result>" for r in batch.result_ids)
        return _xml_raw(f'<result-list xmlns="{NAMESPACE}">{inner}</result-list>')

    @staticmethod
    def _check_completed(batch: Batch) -> None:
        if batch.state != "Completed" or batch.result is None:
            raise Bulk1Error("InvalidBatch", f"Batch {batch.id} is {batch.state}; results are not available")

    async def result(self, request: Request) -> Response:
        job, batch = self._batch(request)
        self._check_completed(batch)
        result = batch.result
        assert result is not None  # _check_completed
        try:
            index = batch.result_ids.index(request.path_params["result_id"])
        except ValueError:
            raise Bulk1Error(
                "InvalidBatch", f"Unable to find result: {request.path_params['result_id']}"
            ) from None
        start = index * RESULT_ROWS
        count = min(RESULT_ROWS, result.total - start)
        if job.content_type == "JSON":
            return StreamingResponse(
                self._json_rows(result, start, count, job.api_version), media_type="application/json"
            )
        if result.total == 0:
            return Response(NO_RECORDS, media_type="text/csv")
        chunks = self.store.results.stream_csv(result, start, count, quote_all=True)
        return StreamingResponse(chunks, media_type="text/csv")

    def _json_rows(self, result: ResultSet, start: int, count: int, version: str) -> Iterator[bytes]:
        """A JSON array of records in 5,000-row pieces; dates as epoch milliseconds (Bulk 1.0's form)."""
        temporal = [c for c in result.query.columns if c.field.type in ("date", "datetime")]
        yield b"["
        done = 0
        while done < count:
            rows = self.store.results.read(result, start + done, min(5000, count - done))
            if not rows:
                break
            records = self.store.results.records(result.query, rows, version)
            for record in records:
                for column in temporal:
                    _epoch_millis(record, column.label.split("."))
            text = json.dumps(records, separators=(",", ":"))[1:-1]
            yield ((b"," if done else b"") + text.encode())
            done += len(rows)
        yield b"]"


def _epoch_millis(record: dict[str, Any], path: list[str]) -> None:
    target: Any = record
    for key in path[:-1]:
        target = target.get(key) if isinstance(target, dict) else None
    if not isinstance(target, dict):
        return
    value = target.get(path[-1])
    if isinstance(value, str):
        # dates count from their midnight UTC
        moment = parse_datetime_literal(value + "T00:00:00Z" if len(value) == 10 else value)
        target[path[-1]] = int(moment.timestamp() * 1000)


def _chunk_soql(soql: str, low: str | None, high: str | None) -> str:
    """The text Salesforce shows as a chunk batch's request: the query with its Id range."""
    bounds = [f"Id >= '{low}'"] + ([f"Id < '{high}'"] if high else [])
    clause = " AND ".join(bounds)
    match = re.search(r"\bWHERE\b", soql, re.IGNORECASE)
    if match is None:
        tail = re.search(r"\b(ORDER\s+BY|LIMIT)\b", soql, re.IGNORECASE)
        cut = tail.start() if tail else len(soql)
        return f"{soql[:cut].rstrip()} WHERE {clause} {soql[cut:]}".strip()
    return f"{soql[: match.end()]} {clause} AND {soql[match.end() :].lstrip()}"


def _json(body: object, status: int = 200) -> Response:
    def default(value: object) -> str:
        if isinstance(value, datetime):
            return rest_datetime(value)
        raise TypeError(type(value).__name__)

    return Response(json.dumps(body, default=default), status, media_type="application/json")


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _element(tag: str, fields: dict[str, Any], *, namespace: bool = True) -> str:
    inner = "".join(f"<{k}>{_text(v)}</{k}>" for k, v in fields.items() if v is not None)
    xmlns = f' xmlns="{NAMESPACE}"' if namespace else ""
    return f"<{tag}{xmlns}>{inner}</{tag}>"


def _xml_raw(body: str, status: int = 200) -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?>' + body, status, media_type="application/xml")


def _xml(tag: str, fields: dict[str, Any], status: int = 200) -> Response:
    return _xml_raw(_element(tag, fields), status)
