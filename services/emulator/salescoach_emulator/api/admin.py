"""The ``/__emulator/`` admin endpoints for tests: faults, recycle bin purge, raw records,
stats, the API usage counter and token expiry. No auth, never faulted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from salescoach_emulator.api.common import json_body, json_response
from salescoach_emulator.faults import FaultSpecError
from salescoach_emulator.store.errors import RecordError

if TYPE_CHECKING:
    from salescoach_emulator.server import Emulator


class Admin:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = emulator.store

    def routes(self) -> list[Route]:
        return [
            Route("/__emulator/faults", self.admin_faults, methods=["GET", "POST", "DELETE"]),
            Route("/__emulator/purge", self.admin_purge, methods=["POST"]),
            Route("/__emulator/records/{sobject}", self.admin_records, methods=["POST"]),
            Route("/__emulator/stats", self.admin_stats, methods=["GET"]),
            Route("/__emulator/api-usage", self.admin_usage, methods=["POST"]),
            Route("/__emulator/expire-tokens", self.admin_expire, methods=["POST"]),
        ]

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response({"spec": self.emulator.faults.spec})
        spec = ""
        if request.method == "POST":
            data = await json_body(request)
            spec = str(data.get("spec", "")) if isinstance(data, dict) else ""
        try:
            return json_response(self.emulator.apply_faults(spec))
        except FaultSpecError as exc:
            return json_response({"error": str(exc)}, 400)

    async def admin_purge(self, request: Request) -> Response:
        data = await json_body(request)
        objects = data.get("objects") if isinstance(data, dict) else None
        try:
            purged = await run_in_threadpool(self.store.writes.purge_recycle_bin, objects)
        except RecordError as exc:
            return json_response({"error": exc.message}, 400)
        return json_response({"purged": purged})

    async def admin_records(self, request: Request) -> Response:
        data = await json_body(request)
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            return json_response({"error": 'expected {"records": [...]}'}, 400)
        try:
            ids = await run_in_threadpool(self.store.writes.seed, request.path_params["sobject"], records)
        except RecordError as exc:
            return json_response({"error": exc.message, "errorCode": exc.error_code}, 400)
        return json_response({"ids": ids})

    async def admin_stats(self, request: Request) -> Response:
        emulator = self.emulator
        return json_response(
            {
                "apiUsage": {"used": emulator.api_used, "max": emulator.config.daily_api_limit},
                "handlers": dict(emulator.stats.handlers),
                "faults": dict(emulator.stats.faults),
                "tokensIssued": emulator.tokens.issued,
                "jobs": len(emulator.bulk2.jobs),
                "bulk1Jobs": len(emulator.bulk1.jobs),
            }
        )

    async def admin_usage(self, request: Request) -> Response:
        data = await json_body(request)
        used = self.emulator.set_api_used(int(data.get("used", 0)))
        return json_response({"used": used, "max": self.emulator.config.daily_api_limit})

    async def admin_expire(self, request: Request) -> Response:
        return json_response({"revokedTokens": self.emulator.tokens.revoke_all()})
