"""REST ``query`` and ``queryAll``, and their next pages (``nextRecordsUrl``)."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from salescoach_emulator.api.common import ApiError, json_response
from salescoach_emulator.store.results import QueryPage

if TYPE_CHECKING:
    from salescoach_emulator.server import Emulator

DEFAULT_BATCH = 2000


class Queries:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = emulator.store

    def routes(self, v: str) -> list[Route]:
        api = self.emulator.api
        return [
            Route(f"{v}/query", api("query")(self.query), methods=["GET"]),
            Route(f"{v}/query/{{locator}}", api("query_more")(self.query_more), methods=["GET"]),
            Route(f"{v}/queryAll", api("query_all")(self.query), methods=["GET"]),
            Route(f"{v}/queryAll/{{locator}}", api("query_more")(self.query_more), methods=["GET"]),
        ]

    @staticmethod
    def _batch_size(request: Request) -> int:
        options = request.headers.get("sforce-query-options", "")
        match = re.search(r"batchSize\s*=\s*(\d+)", options)
        if not match:
            return DEFAULT_BATCH
        # Salesforce clamps to 200..2000; the size is a hint, not a guarantee.
        return max(200, min(DEFAULT_BATCH, int(match[1])))

    @staticmethod
    def _query_body(page: QueryPage, version: str, endpoint: str) -> dict[str, Any]:
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

        def run() -> QueryPage:
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
