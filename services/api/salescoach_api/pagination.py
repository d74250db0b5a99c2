"""Every list's paging: the `limit` and `cursor` query parameters, opaque keyset cursors, and
the `{"items", "next_cursor"}` page built from them (docs/api.md, "Pagination")."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from salescoach_api.types import has_unstorable_text
from salescoach_core.errors import UnprocessableError

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class InvalidCursorError(UnprocessableError):
    code = "invalid_cursor"


def _invalid_cursor() -> InvalidCursorError:
    return InvalidCursorError("`cursor` is not one this API issued; start again without it.")


def encode_cursor(key: str) -> str:
    """The opaque cursor of a sort key (the last row's, for the next page)."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The sort key `encode_cursor` wrapped; 422 `invalid_cursor` for anything else."""
    if cursor is None:
        return None
    try:
        key = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        if not key or has_unstorable_text(key):
            raise ValueError("empty cursor, or one with text no key holds")
        return key
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _invalid_cursor() from exc


def time_id_cursor(moment: datetime, row_id: uuid.UUID) -> str:
    """The cursor of a row in a list sorted by (a time, then its id)."""
    return encode_cursor(f"{moment.isoformat()}|{row_id}")


def parse_time_id_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    moment, _, row_id = key.partition("|")
    try:
        return datetime.fromisoformat(moment), uuid.UUID(row_id)
    except ValueError as exc:
        raise _invalid_cursor() from exc


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass `next_cursor` as `cursor` for the next page; null on the last."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class PaginationParams:
    """A list request's `limit` and `cursor`. Services fetch `fetch` rows after the cursor's key;
    `page` turns them into the answer."""

    limit: int
    cursor: str | None

    @property
    def fetch(self) -> int:
        # One row past the page, fetched only to tell whether a next page exists.
        return self.limit + 1

    def after_key(self) -> str | None:
        """The sort key of a cursor made by `encode_cursor`."""
        return decode_cursor(self.cursor)

    def after_time_id(self) -> tuple[datetime, uuid.UUID] | None:
        """The (time, id) key of a cursor made by `time_id_cursor`."""
        return parse_time_id_cursor(self.cursor)

    def page(self, rows: Sequence[R], *, public: Callable[[R], T], cursor_of: Callable[[R], str]) -> Page[T]:
        """The page of `rows` fetched with `limit=self.fetch`."""
        shown = rows[: self.limit]
        next_cursor = cursor_of(shown[-1]) if len(rows) > self.limit else None
        return Page[T](items=[public(row) for row in shown], next_cursor=next_cursor)


def get_pagination(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1-{MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> PaginationParams:
    return PaginationParams(limit=limit, cursor=cursor)


PaginationDep = Annotated[PaginationParams, Depends(get_pagination)]
