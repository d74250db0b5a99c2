"""REST sObjects: describe, single records (by id or external id), replication (``deleted``,
``updated``) and sObject collections (``composite/sobjects``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from salescoach_emulator.api.common import ApiError, json_body, json_response
from salescoach_emulator.api.composite import composite_handler
from salescoach_emulator.describe import Describer
from salescoach_emulator.schema import ObjectDef
from salescoach_emulator.soql import SoqlError, parse_datetime_literal
from salescoach_emulator.store.errors import RecordError

if TYPE_CHECKING:
    from salescoach_emulator.server import Emulator

COLLECTION_LIMIT = 200


class _RollBack(Exception):
    """Raised inside a collection's transaction to undo it (allOrNone with a failure)."""


class SObjects:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = emulator.store
        self.describer = Describer(emulator.store)

    def routes(self, v: str) -> list[Route]:
        api = self.emulator.api
        s = f"{v}/sobjects/{{sobject}}"
        c = f"{v}/composite/sobjects"
        return [
            Route(
                f"{v}/composite",
                api("composite")(composite_handler(lambda: self.emulator.app)),
                methods=["POST"],
            ),
            Route(f"{v}/sobjects", api("describe_global")(self.describe_global), methods=["GET"]),
            Route(s, api("sobject")(self.sobject_root), methods=["GET", "POST"]),
            Route(f"{s}/describe", api("describe")(self.describe), methods=["GET"]),
            Route(f"{s}/deleted", api("deleted")(self.get_deleted), methods=["GET"]),
            Route(f"{s}/updated", api("updated")(self.get_updated), methods=["GET"]),
            Route(f"{s}/{{record_id}}", api("record")(self.record), methods=["GET", "PATCH", "DELETE"]),
            Route(f"{s}/{{field}}/{{value}}", api("external_id")(self.external_id), methods=["GET", "PATCH"]),
            Route(c, api("collections")(self.collections), methods=["GET", "POST", "PATCH", "DELETE"]),
            Route(f"{c}/{{sobject}}", api("collections")(self.collections_retrieve), methods=["GET", "POST"]),
            Route(
                f"{c}/{{sobject}}/{{field}}",
                api("collections_upsert")(self.collections_upsert),
                methods=["PATCH"],
            ),
        ]

    def _object(self, name: str) -> ObjectDef:
        obj = self.store.get_object(name)
        if obj is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return obj

    @staticmethod
    async def _json_object(request: Request) -> dict[str, Any]:
        data = await json_body(request)
        if not isinstance(data, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        return data

    # ------------------------------------------------------------------ describe

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

    # ------------------------------------------------------------------ records

    async def sobject_root(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        version = request.path_params["version"]
        if request.method == "GET":
            return json_response(
                {"objectDescribe": self.describer.global_entry(obj, version), "recentItems": []}
            )
        data = await self._json_object(request)
        self.emulator.lock_fault(request)

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
        self.emulator.lock_fault(request)
        if request.method == "DELETE":

            def delete() -> None:
                with self.store.writes.transaction():
                    self.store.writes.delete(obj.name, record_id)

            await run_in_threadpool(delete)
            return Response(status_code=204)
        data = await self._json_object(request)

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
        data = await self._json_object(request)
        self.emulator.lock_fault(request)

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

    # ------------------------------------------------------------------ replication

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

    # ------------------------------------------------------------------ sObject collections

    @staticmethod
    def _save_result(
        record_id: str | None, error: RecordError | None, *, created: bool | None = None
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
                        if self.emulator.faults.draw_lock(path):
                            self.emulator.stats.faults["lock"] += 1
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
        writes = self.store.writes
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
                        return writes.delete(obj.name, record_id), None
                raise RecordError("INVALID_ID_FIELD", f"invalid record id: {record_id}")

            results = await run_in_threadpool(self._run_collection, path, ids, all_or_none, delete_one)
            return json_response(results)
        if request.method == "GET":
            raise ApiError(400, "MALFORMED_QUERY", "GET composite/sobjects needs an sObject type in the path")
        records, all_or_none = self._collection_records(await json_body(request))

        if request.method == "POST":

            def create_one(record: dict[str, Any]) -> tuple[str, bool | None]:
                if record.get("Id"):
                    raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", fields=["Id"])
                return writes.create(self._record_type(record), record), None

            operation = create_one
        else:

            def update_one(record: dict[str, Any]) -> tuple[str, bool | None]:
                record_id = record.get("Id")
                if not record_id:
                    raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", fields=["Id"])
                return writes.update(self._record_type(record), str(record_id), record), None

            operation = update_one
        results = await run_in_threadpool(self._run_collection, path, records, all_or_none, operation)
        return json_response(results)

    async def collections_retrieve(self, request: Request) -> Response:
        obj = self._object(request.path_params["sobject"])
        version = request.path_params["version"]
        if request.method == "POST":
            data = await json_body(request)
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
        records, all_or_none = self._collection_records(await json_body(request))
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
