"""REST discovery: the version list, a version's resources, and ``limits``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from salescoach_emulator.api.common import MAX_VERSION, MIN_VERSION, json_response
from salescoach_emulator.limits import org_limits

if TYPE_CHECKING:
    from salescoach_emulator.server import Emulator


class Discovery:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self, v: str) -> list[Route]:
        api = self.emulator.api
        return [
            Route("/services/data", self.versions, methods=["GET"]),
            Route(v, api("resources")(self.resources), methods=["GET"]),
            Route(f"{v}/limits", api("limits")(self.limits), methods=["GET"]),
        ]

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
        emulator = self.emulator
        return json_response(
            org_limits(
                api_used=emulator.api_used,
                api_max=emulator.config.daily_api_limit,
                bulk1_batches=emulator.bulk1.batches_created,
                bulk2_jobs=len(emulator.bulk2.jobs),
            )
        )
