"""Optimistic concurrency on single records (goals, sessions, action items): every answer about
one record carries its `ETag`, and a write may send it back as `If-Match`, so that of two
coaches editing the same record in two tabs the second is told (412 `precondition_failed`)
instead of silently overwriting the first.

The tag is the record's revision in quotes (`"3"`, salescoach_core.revisions), kept by the
database and counted in the same conditional UPDATE that checks `If-Match`. `If-Match` is
optional: a write without it is not checked, and is a new revision all the same.

`If-Match` follows RFC 9110 (13.1.1): `*` matches any current revision; a list of tags matches
when one of them is the current tag, compared strongly (a weak tag, `W/"3"`, never matches;
neither does a well-formed tag the API never sent). A value that is not `*` or a comma-separated
list of quoted tags (`3` without quotes, `undefined`, an empty value) is 400
`invalid_if_match`, not silently ignored: a client that means to check must not be let through
unchecked, nor be answered 412 for a tag it could never get right.

A route takes part by what its endpoint depends on: `RecordTag` (to set the `ETag`) and
`if_match` (the precondition it hands to the service). `VersionedRoute` documents both in the
route's own OpenAPI operation (the `If-Match` parameter, the `ETag` header of its success
answer); salescoach_api.error_responses documents the 400 and 412 of every route depending on
`if_match`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request, Response
from fastapi.utils import deep_dict_update

from salescoach_api.auth.policy import AccessRoute
from salescoach_api.dependencies import dependency_calls
from salescoach_api.problems import parameters
from salescoach_core.errors import BadRequestError
from salescoach_core.revisions import Precondition, etag_of

MAX_REVISION = 2**31 - 1
"""The largest revision the integer column holds; a bigger number in a tag matches nothing."""
_SHOWN = 200

_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_TAG_LIST = re.compile(rf"[ \t,]*{_TAG}(?:[ \t]*,[ \t,]*{_TAG})*[ \t,]*")
_TAGS = re.compile(r'(W/)?"([^"]*)"')
_REVISION = re.compile(r"[1-9][0-9]{0,9}")

ETAG_HEADER: dict[str, Any] = {
    "schema": {"type": "string"},
    "description": 'The record\'s revision as an entity tag (`"3"`): send it back as `If-Match` '
    'on a write to make sure no one changed the record since (docs/api.md, "Concurrent edits").',
}
IF_MATCH_PARAMETER: dict[str, Any] = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The `ETag` of the record as you last read it (or `*`): the write happens only "
    "if the record is still at that revision, else 412 `precondition_failed` and nothing "
    "changes. Optional; without it the write is not checked. Malformed: 400 `invalid_if_match`.",
}


HEADER = "if-match"


class InvalidIfMatchError(BadRequestError):
    code = "invalid_if_match"
    title = "Invalid If-Match"


def parse_if_match(values: list[str]) -> Precondition | None:
    """The precondition of the request's `If-Match` header lines (None without any)."""
    if not values:
        return None
    sent = ", ".join(values)
    shown = sent if len(sent) <= _SHOWN else sent[:_SHOWN] + "..."
    if sent.strip(" \t") == "*":
        return Precondition(revisions=None, sent=shown)
    if not _TAG_LIST.fullmatch(sent):
        raise InvalidIfMatchError(
            f'If-Match must be `*` or the ETag of an earlier answer, quotes included (e.g. "3"), '
            f"several separated by commas; got `{shown}`. Send the ETag header of the record's "
            "last GET, or no If-Match to write unchecked."
        )
    revisions = frozenset(
        int(opaque)
        for weak, opaque in _TAGS.findall(sent)
        if not weak and _REVISION.fullmatch(opaque) and int(opaque) <= MAX_REVISION
    )
    return Precondition(revisions=revisions, sent=shown)


def if_match(request: Request) -> Precondition | None:
    """The request's `If-Match`, for a write to hand to its service (400 when malformed)."""
    with parameters("header", HEADER):
        return parse_if_match(request.headers.getlist(HEADER))


IfMatchDep = Annotated[Precondition | None, Depends(if_match)]


class Revisioned(Protocol):
    @property
    def revision(self) -> int: ...


RowT = TypeVar("RowT", bound=Revisioned)


class RecordTag:
    """Tags the answer with one record's revision: `tag(row)` sets `ETag` and returns `row`."""

    def __init__(self, response: Response) -> None:
        self._response = response

    def __call__(self, row: RowT) -> RowT:
        self._response.headers["ETag"] = etag_of(row.revision)
        return row


RecordTagDep = Annotated[RecordTag, Depends()]


class VersionedRoute(AccessRoute):
    """An `AccessRoute` whose operation documents the `ETag` of its success answer when its
    endpoint depends on `RecordTag`, and the `If-Match` parameter when it depends on
    `if_match`. A router opts in with `v1_router(route_class=VersionedRoute)`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        calls = set(dependency_calls(self.dependant))
        documented: dict[str, Any] = {}
        if RecordTag in calls:
            success = str(self.status_code or 200)
            documented["responses"] = {success: {"headers": {"ETag": copy.deepcopy(ETAG_HEADER)}}}
        if if_match in calls:
            documented["parameters"] = [copy.deepcopy(IF_MATCH_PARAMETER)]
        extra = copy.deepcopy(self.openapi_extra or {})
        deep_dict_update(extra, documented)
        self.openapi_extra = extra
