"""`ETag` / `If-None-Match` on the reads whose route class is `ETagRoute` (the scorecards): a
client polling one that has not changed gets 304 and no body.

The tag is a hash of the body the route produced, so it changes exactly when the figures do
(scorecards are computed per request, with no version column to derive it from); what is saved
is the transfer and the client's re-rendering, not the computation.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.utils import deep_dict_update
from starlette.requests import Request
from starlette.responses import Response

from salescoach_api.auth.policy import AccessRoute

# Merged into the route's operation by FastAPI, like `x-access`: the route documents itself.
OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The `ETag` of a scorecard you hold: 304 when it is unchanged.",
        }
    ],
    "responses": {
        "200": {
            "headers": {
                "ETag": {"schema": {"type": "string"}, "description": "Tag of this scorecard's content."}
            }
        },
        "304": {"description": "Unchanged since the `If-None-Match` tag."},
    },
}


def _matches(tag: str, header: str) -> bool:
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return "*" in candidates or tag in candidates


def conditional(request: Request, response: Response) -> Response:
    """`response` with its `ETag`, or 304 when the request's `If-None-Match` holds that tag.
    Only a 200 is tagged: an error is never cached nor answered with 304."""
    if response.status_code != 200:
        return response
    tag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    response.headers["etag"] = tag
    response.headers["cache-control"] = "private, no-cache"
    # Tags hash what this caller may see: a shared cache must not hand one caller's to another.
    response.headers["vary"] = "Authorization"
    if not _matches(tag, request.headers.get("if-none-match", "")):
        return response
    not_modified = Response(status_code=304, background=response.background)
    not_modified.raw_headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
    return not_modified


class ETagRoute(AccessRoute):
    """An `AccessRoute` whose 200 answers carry an `ETag` and honour `If-None-Match`, and whose
    operation documents both. A router opts in with `v1_router(route_class=ETagRoute)`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        extra = copy.deepcopy(self.openapi_extra or {})
        deep_dict_update(extra, copy.deepcopy(OPENAPI))
        self.openapi_extra = extra

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def tagged(request: Request) -> Response:
            return conditional(request, await handler(request))

        return tagged
