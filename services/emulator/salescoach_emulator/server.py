"""The emulator's HTTP side: an ASGI app speaking Salesforce's REST, Bulk 2.0, Bulk 1.0 (bulk1.py),
OAuth2 and SOAP login protocols, plus the ``/__emulator/`` admin endpoints for tests.

Every store call runs in the thread pool so a long query never stalls the event loop (and
injected delays stay accurate).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from salescoach_emulator.auth import (
    ORG_ID,
    Credentials,
    JwtKeys,
    OAuthError,
    TokenStore,
    soap_credentials,
    soap_fault,
    soap_login_response,
    token_signature,
    verify_jwt_assertion,
)
from salescoach_emulator.bulk1 import Bulk1
from salescoach_emulator.describe import Describer
from salescoach_emulator.faults import Decision, FaultEngine, FaultSpecError
from salescoach_emulator.limits import org_limits
from salescoach_emulator.schema import ObjectDef
from salescoach_emulator.soql import SoqlError, format_datetime, parse_datetime_literal
from salescoach_emulator.store.errors import RecordError
from salescoach_emulator.store.org import OrgStore
from salescoach_emulator.store.results import ResultSet

log = structlog.get_logger(__name__)

MIN_VERSION, MAX_VERSION = 20, 66
DEFAULT_BATCH = 2000
COLLECTION_LIMIT = 200
JSON_TYPE = "application/json;charset=UTF-8"
Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """An error answered with Salesforce's body ``[{"message", "errorCode"(, "fields")}]``."""

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, headers=headers, media_type=JSON_TYPE)


def error_body(error_code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    item: dict[str, Any] = {"message": message, "errorCode": error_code}
    if fields is not None:
        item["fields"] = fields
    return [item]


def sf_datetime(value: datetime) -> str:
    """REST JSON datetime form: ``2026-02-13T19:51:30.000+0000``."""
    return format_datetime(value)[:-1] + "+0000"


@dataclass
class QueryJob:
    """A Bulk API 2.0 query job."""

    id: str
    operation: str
    object: str
    soql: str
    api_version: str
    created: str
    state: str = "UploadComplete"
    modstamp: str = ""
    result: ResultSet | None = None
    error: str | None = None
    processing_ms: int = 0
    compiled: Any = None

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


@dataclass
class EmulatorConfig:
    credentials: Credentials
    jwt_keys: JwtKeys
    token_ttl: float | None = 7200.0
    daily_api_limit: int = 100_000
    base_url: str = ""  # set once the socket is bound


@dataclass
class Stats:
    handlers: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)


class Emulator:
    """The ASGI application. ``emulator.asgi`` is what uvicorn serves."""

    def __init__(self, store: OrgStore, config: EmulatorConfig, faults: str | None = None) -> None:
        self.store = store
        self.config = config
        self.tokens = TokenStore(config.token_ttl)
        self.faults = FaultEngine()
        self.stats = Stats()
        self.api_used = 0
        self._usage_lock = threading.Lock()
        self.jobs: dict[str, QueryJob] = {}
        self.describer = Describer(store)
        self.bulk1 = Bulk1(self)
        self._job_tasks: set[asyncio.Task[None]] = set()
        if faults:
            self.apply_faults(faults)
        self.app = Starlette(routes=self._routes())

    # ------------------------------------------------------------------ ASGI entry

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Outermost layer: trailing-slash folding and fault injection, then routing."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/")}
            path = scope["path"]
        if not path.startswith("/__emulator"):
            decision = self.faults.decide(
                path, is_write=scope["method"] in ("POST", "PATCH", "DELETE", "PUT")
            )
            scope = {**scope, "emulator.fault": decision}
            if decision.delay:
                self.stats.faults["delay"] += 1
                await asyncio.sleep(decision.delay)
            if decision.drop and self._drop_connection(send):
                self.stats.faults["drop"] += 1
                return
            if decision.status:
                self.stats.faults[f"status_{decision.status}"] += 1
                code = "SERVER_UNAVAILABLE" if decision.status == 503 else "UNKNOWN_EXCEPTION"
                response = json_response(
                    error_body(code, f"injected fault: HTTP {decision.status}"), decision.status
                )
                await response(scope, receive, send)
                return
            if decision.drop_after:
                await self._handle_then_drop(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _handle_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply the request, then lose the response: the client cannot tell whether its write
        happened, which is what idempotent retries (upsert by external id) must survive."""
        sent: list[Message] = []

        async def hold(message: Message) -> None:
            sent.append(message)

        await self.app(scope, receive, hold)
        if self._drop_connection(send):
            self.stats.faults["dropafter"] += 1
            return
        for message in sent:
            await send(message)

    @staticmethod
    def _drop_connection(send: Send) -> bool:
        """Close the client's socket without a response.

        ASGI has no such message, so this reaches uvicorn's protocol object behind ``send``;
        marking the cycle disconnected stops uvicorn from answering 500 afterwards.
        """
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            return False
        cycle.disconnected = True  # type: ignore[union-attr]
        transport.abort()
        return True

    # ------------------------------------------------------------------ plumbing

    def apply_faults(self, spec: str) -> dict[str, Any]:
        plan = self.faults.configure(spec)
        if plan.limit_after is not None:
            with self._usage_lock:
                self.api_used = max(self.api_used, self.config.daily_api_limit - plan.limit_after)
        revoked = self.tokens.revoke_all() if plan.expire_now else 0
        log.info("emulator.faults_set", spec=spec, revoked_tokens=revoked)
        return {"spec": spec, "revokedTokens": revoked}

    def limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.config.daily_api_limit}"}

    def api(self, name: str, *, count: bool = True) -> Callable[[Handler], Handler]:
        """Wrap a REST handler: session check, API accounting, limit header, error mapping."""

        def wrap(handler: Handler) -> Handler:
            @functools.wraps(handler)
            async def wrapped(request: Request) -> Response:
                self.stats.handlers[name] += 1
                try:
                    self.check_version(request)
                    self._authenticate(request)
                    if count:
                        with self._usage_lock:
                            if self.api_used >= self.config.daily_api_limit:
                                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                            self.api_used += 1
                    response = await handler(request)
                except ApiError as exc:
                    response = json_response(error_body(exc.error_code, exc.message, exc.fields), exc.status)
                except SoqlError as exc:
                    response = json_response(error_body(exc.error_code, exc.message), 400)
                except RecordError as exc:
                    response = self._record_error_response(exc)
                response.headers.update(self.limit_header())
                return response

            return wrapped

        return wrap

    @staticmethod
    def _record_error_response(exc: RecordError) -> Response:
        if exc.status == 300:
            return json_response([exc.message], 300)
        fields = exc.fields if exc.fields or exc.error_code != "NOT_FOUND" else None
        return json_response(error_body(exc.error_code, exc.message, fields), exc.status)

    @staticmethod
    def check_version(request: Request) -> None:
        version = request.path_params.get("version")
        if version is None:
            return
        match = re.fullmatch(r"(\d+)\.0", version)
        if match is None or not MIN_VERSION <= int(match[1]) <= MAX_VERSION:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not self.session_valid(request, token):
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def session_valid(self, request: Request, token: str) -> bool:
        """Whether ``token`` is a live session; the ``expire`` fault revokes it first."""
        decision: Decision | None = request.scope.get("emulator.fault")
        if decision is not None and decision.expire and token:
            self.stats.faults["expire"] += 1
            self.tokens.revoke(token)
        return bool(token) and self.tokens.valid(token)

    def _lock_fault(self, request: Request) -> None:
        decision: Decision | None = request.scope.get("emulator.fault")
        if decision is not None and decision.lock:
            self.stats.faults["lock"] += 1
            raise ApiError(
                400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
            )

    async def _json_body(self, request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc.msg}") from None

    def _object(self, name: str) -> ObjectDef:
        obj = self.store.get_object(name)
        if obj is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return obj

    @property
    def identity_url(self) -> str:
        return f"{self.config.base_url}/id/{ORG_ID}/{self.store.user_id}"

    # ------------------------------------------------------------------ routes

    def _routes(self) -> list[Route]:
        v = "/services/data/v{version}"
        r: list[tuple[str, Handler, list[str]]] = [
            ("/services/data", self.versions, ["GET"]),
            (v, self.api("resources")(self.resources), ["GET"]),
            (f"{v}/limits", self.api("limits")(self.limits), ["GET"]),
            (f"{v}/query", self.api("query")(self.query), ["GET"]),
            (f"{v}/query/{{locator}}", self.api("query_more")(self.query_more), ["GET"]),
            (f"{v}/queryAll", self.api("query_all")(self.query), ["GET"]),
            (f"{v}/queryAll/{{locator}}", self.api("query_more")(self.query_more), ["GET"]),
            (f"{v}/sobjects", self.api("describe_global")(self.describe_global), ["GET"]),
            (f"{v}/sobjects/{{sobject}}", self.api("sobject")(self.sobject_root), ["GET", "POST"]),
            (f"{v}/sobjects/{{sobject}}/describe", self.api("describe")(self.describe), ["GET"]),
            (f"{v}/sobjects/{{sobject}}/deleted", self.api("deleted")(self.get_deleted), ["GET"]),
            (f"{v}/sobjects/{{sobject}}/updated", self.api("updated")(self.get_updated), ["GET"]),
            (
                f"{v}/sobjects/{{sobject}}/{{record_id}}",
                self.api("record")(self.record),
                ["GET", "PATCH", "DELETE"],
            ),
            (
                f"{v}/sobjects/{{sobject}}/{{field}}/{{value}}",
                self.api("external_id")(self.external_id),
                ["GET", "PATCH"],
            ),
            (
                f"{v}/composite/sobjects",
                self.api("collections")(self.collections),
                ["GET", "POST", "PATCH", "DELETE"],
            ),
            (
                f"{v}/composite/sobjects/{{sobject}}",
                self.api("collections")(self.collections_retrieve),
                ["GET", "POST"],
            ),
            (
                f"{v}/composite/sobjects/{{sobject}}/{{field}}",
                self.api("collections_upsert")(self.collections_upsert),
                ["PATCH"],
            ),
            (f"{v}/jobs/query", self.api("bulk_jobs")(self.bulk_jobs), ["GET", "POST"]),
            (
                f"{v}/jobs/query/{{job_id}}",
                self.api("bulk_job")(self.bulk_job),
                ["GET", "PATCH", "DELETE"],
            ),
            (f"{v}/jobs/query/{{job_id}}/results", self.api("bulk_results")(self.bulk_results), ["GET"]),
            ("/services/oauth2/token", self.oauth_token, ["POST"]),
            ("/services/oauth2/authorize", self.oauth_authorize, ["GET"]),
            ("/services/oauth2/revoke", self.oauth_revoke, ["GET", "POST"]),
            ("/services/oauth2/userinfo", self.api("userinfo", count=False)(self.userinfo), ["GET"]),
            ("/id/{org_id}/{user_id}", self.api("identity", count=False)(self.userinfo), ["GET"]),
            ("/services/Soap/u/{version}", self.soap_login, ["POST"]),
            ("/services/Soap/u/{version}/{org_id}", self.soap_login, ["POST"]),
            ("/__emulator/faults", self.admin_faults, ["GET", "POST", "DELETE"]),
            ("/__emulator/purge", self.admin_purge, ["POST"]),
            ("/__emulator/records/{sobject}", self.admin_records, ["POST"]),
            ("/__emulator/stats", self.admin_stats, ["GET"]),
            ("/__emulator/api-usage", self.admin_usage, ["POST"]),
            ("/__emulator/expire-tokens", self.admin_expire, ["POST"]),
        ]
        return [Route(path, handler, methods=methods) for path, handler, methods in r] + self.bulk1.routes()

    # ------------------------------------------------------------------ REST: discovery

    async def versions(self, request: Request) -> Response:
        body = [
            {"label": f"v{n}.0", "url": f"/services/data/v{n}.0", "version": f"{n}.0"}
            for n in range(MIN_VERSION, MAX_VERSION + 1)
        ]
        return json_response(body)

    async def resources(self, request: Request) -> Response:
        base = f"/services/data/v{request.path_params['version']}"
        names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs")
        return json_response({n: f"{base}/{n}" for n in names})

    async def limits(self, request: Request) -> Response:
        return json_response(
            org_limits(
                api_used=self.api_used,
                api_max=self.config.daily_api_limit,
                bulk1_batches=self.bulk1.batches_created,
                bulk2_jobs=len(self.jobs),
            )
        )

    # ------------------------------------------------------------------ REST: query

    @staticmethod
    def _batch_size(request: Request) -> int:
        options = request.headers.get("sforce-query-options", "")
        match = re.search(r"batchSize\s*=\s*(\d+)", options)
        if not match:
            return DEFAULT_BATCH
        # Salesforce clamps to 200..2000; the size is a hint, not a guarantee.
        return max(200, min(DEFAULT_BATCH, int(match[1])))

    def _query_body(self, page: Any, version: str, endpoint: str) -> dict[str, Any]:
        body: dict[str, Any] = {"totalSize": page.total, "done": page.next_locator is None}
        if page.next_locator:
            body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{page.next_locator}"
        body["records"] = page.records
        return body

    async def query(self, request: Request) -> Response:
        soql = request.query_params.get("q")
        if soql is None:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        include_deleted = request.url.path.endswith("queryAll")
        version = request.path_params["version"]
        batch = self._batch_size(request)

        def run() -> Any:
            cq = self.store.compile(soql)
            return self.store.results.query_page(
                cq, include_deleted=include_deleted, batch_size=batch, api_version=version
            )

        page = await run_in_threadpool(run)
        endpoint = "queryAll" if include_deleted else "query"
        return json_response(self._query_body(page, version, endpoint))

    async def query_more(self, request: Request) -> Response:
        version = request.path_params["version"]
        batch = self._batch_size(request)
        locator = request.path_params["locator"]
        page = await run_in_threadpool(
            functools.partial(self.store.results.query_more, locator, batch_size=batch, api_version=version)
        )
        endpoint = "queryAll" if "/queryAll/" in request.url.path else "query"
        return json_response(self._query_body(page, version, endpoint))

    # ------------------------------------------------------------------ REST: describe

    async def describe_global(self, request: Request) -> Response:
        version = request.path_params["version"]
        return json_response(
            {
                "encoding": "UTF-8",
                "maxBatchSize": COLLECTION_LIMIT,
                "sobjects": [self.describer.global_entry(o, version) for o in self.store.objects.values()],
            }
        )

    async def describe(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        version = request.path_params["version"]
        # Stage names and the CSV files' picklist values come from SQLite.
        body = await run_in_threadpool(self.describer.object_describe, obj, version)
        return json_response(body)

    # ------------------------------------------------------------------ REST: records

    async def sobject_root(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        version = request.path_params["version"]
        if request.method == "GET":
            return json_response(
                {"objectDescribe": self.describer.global_entry(obj, version), "recentItems": []}
            )
        data = await self._json_body(request)
        if not isinstance(data, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        self._lock_fault(request)

        def create() -> str:
            with self.store.writes.transaction():
                return self.store.writes.create(obj.name, data)

        record_id = await run_in_threadpool(create)
        return json_response({"id": record_id, "success": True, "errors": []}, 201)

    async def record(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        record_id = request.path_params["record_id"]
        version = request.path_params["version"]
        if request.method == "GET":
            fields_param = request.query_params.get("fields")
            fields = fields_param.split(",") if fields_param else None
            record = await run_in_threadpool(
                functools.partial(
                    self.store.get_record, obj.name, record_id, fields=fields, api_version=version
                )
            )
            return json_response(record)
        self._lock_fault(request)
        if request.method == "DELETE":

            def delete() -> None:
                with self.store.writes.transaction():
                    self.store.writes.delete(obj.name, record_id)

            await run_in_threadpool(delete)
            return Response(status_code=204)
        data = await self._json_body(request)
        if not isinstance(data, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")

        def update() -> None:
            with self.store.writes.transaction():
                self.store.writes.update(obj.name, record_id, data)

        await run_in_threadpool(update)
        return Response(status_code=204)

    async def external_id(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        field_name, value = request.path_params["field"], request.path_params["value"]
        version = request.path_params["version"]
        if request.method == "GET":
            record = await run_in_threadpool(
                functools.partial(
                    self.store.get_record_by_field, obj.name, field_name, value, api_version=version
                )
            )
            return json_response(record)
        data = await self._json_body(request)
        if not isinstance(data, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        self._lock_fault(request)

        def upsert() -> tuple[str, bool]:
            with self.store.writes.transaction():
                return self.store.writes.upsert(obj.name, field_name, value, data)

        record_id, created = await run_in_threadpool(upsert)
        body = {"id": record_id, "success": True, "errors": [], "created": created}
        if created:
            return json_response(body, 201)
        # Since API 46.0 an upsert that updates answers 200 with a body; before, 204.
        if float(version) >= 46.0:
            return json_response(body, 200)
        return Response(status_code=204)

    # ------------------------------------------------------------------ REST: replication

    @staticmethod
    def _window(request: Request) -> tuple[datetime, datetime]:
        try:
            start = parse_datetime_literal(request.query_params["start"])
            end = parse_datetime_literal(request.query_params["end"])
        except KeyError as exc:
            raise ApiError(400, "MALFORMED_QUERY", f"Missing parameter: {exc.args[0]}") from None
        except SoqlError:
            raise ApiError(400, "INVALID_REPLICATION_DATE", "invalid start or end date") from None
        return start, end

    async def get_deleted(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        start, end = self._window(request)
        body = await run_in_threadpool(self.store.deleted, obj.name, start, end)
        return json_response(body)

    async def get_updated(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        start, end = self._window(request)
        body = await run_in_threadpool(self.store.updated, obj.name, start, end)
        return json_response(body)

    # ------------------------------------------------------------------ REST: sObject collections

    def _save_result(
        self, record_id: str | None, error: RecordError | None, *, created: bool | None = None
    ) -> dict[str, Any]:
        if error is None:
            result: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
            if created is not None:
                result["created"] = created
            return result
        return {
            "success": False,
            "errors": [{"statusCode": error.error_code, "message": error.message, "fields": error.fields}],
        }

    def _run_collection(
        self,
        path: str,
        items: list[Any],
        all_or_none: bool,
        operation: Callable[[Any], tuple[str, bool | None]],
    ) -> list[dict[str, Any]]:
        """Apply ``operation`` per item in one transaction; per-item savepoints unless allOrNone."""
        results: list[dict[str, Any]] = []
        failed = False
        try:
            with self.store.writes.transaction():
                for item in items:
                    try:
                        if self.faults.draw_lock(path):
                            self.stats.faults["lock"] += 1
                            raise RecordError(
                                "UNABLE_TO_LOCK_ROW",
                                "unable to obtain exclusive access to this record or 1 records",
                            )
                        with self.store.writes.transaction():
                            record_id, created = operation(item)
                        results.append(self._save_result(record_id, None, created=created))
                    except RecordError as exc:
                        failed = True
                        results.append(self._save_result(None, exc))
                if all_or_none and failed:
                    raise _RollBack
        except _RollBack:
            pass
        if all_or_none and failed:
            rolled_back = RecordError(
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was using"
                " AllOrNone header",
            )
            results = [r if not r["success"] else self._save_result(None, rolled_back) for r in results]
        return results

    @staticmethod
    def _collection_records(data: Any) -> tuple[list[dict[str, Any]], bool]:
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", 'Expected {"records": [...]}')
        records = data["records"]
        if len(records) > COLLECTION_LIMIT:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
            )
        if not all(isinstance(r, dict) for r in records):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
        return records, bool(data.get("allOrNone", False))

    @staticmethod
    def _record_type(record: dict[str, Any]) -> str:
        attributes = record.get("attributes")
        if not isinstance(attributes, dict) or not attributes.get("type"):
            raise RecordError("INVALID_TYPE", "sObject type is required in attributes")
        return str(attributes["type"])

    async def collections(self, request: Request) -> Response:
        path = request.url.path
        if request.method == "DELETE":
            ids = [i for i in request.query_params.get("ids", "").split(",") if i]
            if len(ids) > COLLECTION_LIMIT:
                raise ApiError(
                    400, "EXCEEDED_ID_LIMIT", f"cannot delete more than {COLLECTION_LIMIT} records"
                )
            all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"

            def delete_one(record_id: str) -> tuple[str, bool | None]:
                for obj in self.store.objects.values():
                    if record_id.startswith(obj.key_prefix):
                        return self.store.writes.delete(obj.name, record_id), None
                raise RecordError("INVALID_ID_FIELD", f"invalid record id: {record_id}")

            results = await run_in_threadpool(self._run_collection, path, ids, all_or_none, delete_one)
            return json_response(results)
        if request.method == "GET":
            raise ApiError(400, "MALFORMED_QUERY", "GET composite/sobjects needs an sObject type in the path")
        records, all_or_none = self._collection_records(await self._json_body(request))

        if request.method == "POST":

            def create_one(record: dict[str, Any]) -> tuple[str, bool | None]:
                if record.get("Id"):
                    raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", fields=["Id"])
                return self.store.writes.create(self._record_type(record), record), None

            operation = create_one
        else:

            def update_one(record: dict[str, Any]) -> tuple[str, bool | None]:
                record_id = record.get("Id")
                if not record_id:
                    raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", fields=["Id"])
                return self.store.writes.update(self._record_type(record), str(record_id), record), None

            operation = update_one
        results = await run_in_threadpool(self._run_collection, path, records, all_or_none, operation)
        return json_response(results)

    async def collections_retrieve(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        version = request.path_params["version"]
        if request.method == "POST":
            data = await self._json_body(request)
            ids, fields = data.get("ids", []), data.get("fields", [])
        else:
            ids = [i for i in request.query_params.get("ids", "").split(",") if i]
            fields = [f for f in request.query_params.get("fields", "").split(",") if f]
        if not fields:
            raise ApiError(400, "MALFORMED_QUERY", "fields is required")

        def retrieve() -> list[Any]:
            out: list[Any] = []
            for record_id in ids:
                try:
                    out.append(self.store.get_record(obj.name, record_id, fields=fields, api_version=version))
                except RecordError as exc:
                    if exc.error_code != "NOT_FOUND":
                        raise
                    out.append(None)
            return out

        return json_response(await run_in_threadpool(retrieve))

    async def collections_upsert(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        field_name = request.path_params["field"]
        records, all_or_none = self._collection_records(await self._json_body(request))
        fdef = obj.field_ci(field_name)
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Field name provided, {field_name} is not an External ID or indexed field for {obj.name}",
            )

        def upsert_one(record: dict[str, Any]) -> tuple[str, bool | None]:
            if self._record_type(record).lower() != obj.name.lower():
                raise RecordError("INVALID_TYPE", "all records must be of the type in the URL")
            value = next((v for k, v in record.items() if k.lower() == fdef.name.lower()), None)
            if value in (None, ""):
                raise RecordError("MISSING_ARGUMENT", f"{fdef.name} not specified", fields=[fdef.name])
            return self.store.writes.upsert(obj.name, fdef.name, str(value), record)

        results = await run_in_threadpool(
            self._run_collection, request.url.path, records, all_or_none, upsert_one
        )
        return json_response(results)

    # ------------------------------------------------------------------ Bulk API 2.0 query

    async def bulk_jobs(self, request: Request) -> Response:
        version = request.path_params["version"]
        if request.method == "GET":
            records = [j.info(self.store.user_id, detailed=False) for j in self.jobs.values()]
            return json_response({"done": True, "records": records, "nextRecordsUrl": None})
        data = await self._json_body(request)
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
            id="750" + self.store.minter.new_id("750")[3:],
            operation=operation,
            object=compiled.object.name,
            soql=soql,
            api_version=version,
            created=sf_datetime(self.store.clock()),
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
        timeout_rows = self.faults.plan.query_timeout_rows
        if timeout_rows is not None and result.total > timeout_rows and job.state != "Aborted":
            # The `querytimeout` fault: a query that selects too much runs out of time, as on a
            # large org; a narrower (SystemModstamp) window gets through.
            self.store.results.drop(result.locator)
            job.state = "Failed"
            job.error = "QUERY_TIMEOUT: Your query request was running for too long."
            log.warning("emulator.bulk_job_failed", job_id=job.id, error=job.error)
            return
        if job.state == "Aborted":
            self.store.results.drop(result.locator)
            return
        job.result = result
        job.modstamp = sf_datetime(self.store.clock())
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
        data = await self._json_body(request)
        if data.get("state") != "Aborted":
            raise ApiError(400, "INVALIDJOBSTATE", "A query job can only be set to Aborted")
        if job.state in ("JobComplete", "Failed", "Aborted"):
            raise ApiError(400, "INVALIDJOBSTATE", f"Cannot abort a job in state {job.state}")
        job.state = "Aborted"
        job.modstamp = sf_datetime(self.store.clock())
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

    # ------------------------------------------------------------------ OAuth2 and SOAP

    def _token_body(self, client_id: str, *, refresh: bool = False) -> dict[str, Any]:
        issued_at = str(int(time.time() * 1000))
        creds = self.config.credentials
        body: dict[str, Any] = {
            "access_token": self.tokens.issue(client_id),
            "instance_url": self.config.base_url,
            "id": self.identity_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": token_signature(self.identity_url, issued_at, creds.client_secret),
            "scope": "api refresh_token",
        }
        if refresh:
            body["refresh_token"] = self.tokens.issue_refresh(client_id)
        return body

    def _check_client(
        self, client_id: str | None, client_secret: str | None, *, secret_required: bool
    ) -> str:
        creds = self.config.credentials
        if client_id != creds.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if secret_required and client_secret != creds.client_secret:
            raise OAuthError("invalid_client", "invalid client credentials")
        return client_id

    async def oauth_token(self, request: Request) -> Response:
        self.stats.handlers["oauth_token"] += 1
        form = await request.form()
        params = {k: str(v) for k, v in form.items()}
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:]).decode()
            except (ValueError, binascii.Error):
                decoded = ":"
            cid, _, secret = decoded.partition(":")
            params.setdefault("client_id", cid)
            params.setdefault("client_secret", secret)
        creds = self.config.credentials
        grant = params.get("grant_type", "")
        try:
            if grant == "client_credentials":
                client = self._check_client(
                    params.get("client_id"), params.get("client_secret"), secret_required=True
                )
                body = self._token_body(client)
            elif grant == "password":
                client = self._check_client(
                    params.get("client_id"), params.get("client_secret"), secret_required=True
                )
                if params.get("username") != creds.username or params.get("password") != creds.password:
                    raise OAuthError("invalid_grant", "authentication failure")
                body = self._token_body(client)
            elif grant == "refresh_token":
                client = self._check_client(
                    params.get("client_id"), params.get("client_secret"), secret_required=False
                )
                if "client_secret" in params and params["client_secret"] != creds.client_secret:
                    raise OAuthError("invalid_client", "invalid client credentials")
                if self.tokens.refresh_client(params.get("refresh_token", "")) != client:
                    raise OAuthError("invalid_grant", "expired access/refresh token")
                body = self._token_body(client)
            elif grant == "authorization_code":
                client = self._check_client(
                    params.get("client_id"), params.get("client_secret"), secret_required=True
                )
                issued = self.tokens.take_code(params.get("code", ""))
                if issued is None or issued[0] != client or issued[1] != params.get("redirect_uri"):
                    raise OAuthError("invalid_grant", "invalid authorization code")
                body = self._token_body(client, refresh=True)
            elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                verify_jwt_assertion(
                    params.get("assertion", ""),
                    public_key_pem=self.config.jwt_keys.public_key_pem,
                    creds=creds,
                    login_url=self.config.base_url,
                )
                body = self._token_body(creds.client_id)
                del body["scope"]
            else:
                raise OAuthError("unsupported_grant_type", "grant type not supported")
        except OAuthError as exc:
            log.info("emulator.oauth_refused", grant=grant, error=exc.error)
            return json_response({"error": exc.error, "error_description": exc.description}, exc.status)
        log.info("emulator.oauth_token_issued", grant=grant)
        return json_response(body)

    async def oauth_authorize(self, request: Request) -> Response:
        """The web-server flow, auto-approved (no login page): redirects back with a code."""
        params = request.query_params
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.config.credentials.client_id or not redirect_uri:
            return json_response(
                {"error": "invalid_client_id", "error_description": "client identifier invalid"}, 400
            )
        if params.get("response_type") != "code":
            return json_response(
                {"error": "unsupported_response_type", "error_description": "response type not supported"},
                400,
            )
        code = self.tokens.issue_code(params["client_id"], redirect_uri)
        query = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)

    async def oauth_revoke(self, request: Request) -> Response:
        token = request.query_params.get("token") or str((await request.form()).get("token", ""))
        self.tokens.revoke(token)
        return Response(status_code=200)

    async def userinfo(self, request: Request) -> Response:
        creds = self.config.credentials
        return json_response(
            {
                "id": self.identity_url,
                "user_id": self.store.user_id,
                "organization_id": ORG_ID,
                "username": creds.username,
                "preferred_username": creds.username,
                "display_name": "Integration User",
                "active": True,
                "urls": {
                    "rest": f"{self.config.base_url}/services/data/v{{version}}/",
                    "sobjects": f"{self.config.base_url}/services/data/v{{version}}/sobjects/",
                    "query": f"{self.config.base_url}/services/data/v{{version}}/query/",
                },
            }
        )

    async def soap_login(self, request: Request) -> Response:
        self.stats.handlers["soap_login"] += 1
        creds = self.config.credentials
        try:
            username, password = soap_credentials(await request.body())
        except Exception:  # any unparsable envelope is a client error, as in Salesforce
            return Response(soap_fault("INVALID_LOGIN", "Invalid SOAP envelope"), 500, media_type="text/xml")
        if username != creds.username or password != creds.password:
            body = soap_fault(
                "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
            )
            return Response(body, 500, media_type="text/xml")
        version = request.path_params["version"]
        server_url = f"{self.config.base_url}/services/Soap/u/{version}/{ORG_ID[:15]}"
        body = soap_login_response(
            server_url=server_url,
            session_id=self.tokens.issue(creds.client_id),
            user_id=self.store.user_id,
            username=creds.username,
            ttl=self.config.token_ttl,
        )
        return Response(body, 200, media_type="text/xml")

    # ------------------------------------------------------------------ admin

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response({"spec": self.faults.spec})
        spec = ""
        if request.method == "POST":
            data = await self._json_body(request)
            spec = str(data.get("spec", "")) if isinstance(data, dict) else ""
        try:
            return json_response(self.apply_faults(spec))
        except FaultSpecError as exc:
            return json_response({"error": str(exc)}, 400)

    async def admin_purge(self, request: Request) -> Response:
        data = await self._json_body(request)
        objects = data.get("objects") if isinstance(data, dict) else None
        try:
            purged = await run_in_threadpool(self.store.writes.purge_recycle_bin, objects)
        except RecordError as exc:
            return json_response({"error": exc.message}, 400)
        return json_response({"purged": purged})

    async def admin_records(self, request: Request) -> Response:
        data = await self._json_body(request)
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            return json_response({"error": 'expected {"records": [...]}'}, 400)
        try:
            ids = await run_in_threadpool(self.store.writes.seed, request.path_params["sobject"], records)
        except RecordError as exc:
            return json_response({"error": exc.message, "errorCode": exc.error_code}, 400)
        return json_response({"ids": ids})

    async def admin_stats(self, request: Request) -> Response:
        return json_response(
            {
                "apiUsage": {"used": self.api_used, "max": self.config.daily_api_limit},
                "handlers": dict(self.stats.handlers),
                "faults": dict(self.stats.faults),
                "tokensIssued": self.tokens.issued,
                "jobs": len(self.jobs),
                "bulk1Jobs": len(self.bulk1.jobs),
            }
        )

    async def admin_usage(self, request: Request) -> Response:
        data = await self._json_body(request)
        with self._usage_lock:
            self.api_used = int(data.get("used", 0))
        return json_response({"used": self.api_used, "max": self.config.daily_api_limit})

    async def admin_expire(self, request: Request) -> Response:
        return json_response({"revokedTokens": self.tokens.revoke_all()})


class _RollBack(Exception):
    """Raised inside a collection's transaction to undo it (allOrNone with a failure)."""
