"""Every list's paging: the `limit` and `cursor` query parameters and the `{"items",
"next_cursor"}` page (docs/api.md, "Pagination"); and the one way a list is sorted and paged,
`Sorting`: the `sort` parameter over a whitelist of fields, opaque keyset cursors that carry
the list that issued them and their sort (docs/api.md, "Sorting"), the rows read by
`salescoach_core.keyset.Keyset`. Only the events feed, a feed of event positions, reads `limit`
and `cursor` without a sort."""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import UniqueConstraint

from salescoach_api.problems import parameters
from salescoach_api.types import has_unstorable_text
from salescoach_core.errors import InvalidCursorError, UnprocessableError
from salescoach_core.keyset import Keyset

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class InvalidSortError(UnprocessableError):
    code = "invalid_sort"
    title = "Invalid sort"


def _invalid_cursor() -> InvalidCursorError:
    return InvalidCursorError("`cursor` is not one this API issued; start again without it.")


def _encode_cursor(key: str) -> str:
    """The opaque cursor of a sort key (the last row's, for the next page)."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> str | None:
    """The sort key `_encode_cursor` wrapped; 422 `invalid_cursor` for anything else."""
    if cursor is None:
        return None
    try:
        key = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        if not key or has_unstorable_text(key):
            raise ValueError("empty cursor, or one with text no key holds")
        return key
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _invalid_cursor() from exc


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass `next_cursor` as `cursor` for the next page; null on the last."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class PaginationParams:
    """A list request's `limit` and `cursor`, as given: a sorted list reads them through
    `Sorting.depends`; the events feed, whose cursor is an event position, reads them itself."""

    limit: int
    cursor: str | None


def get_pagination(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1-{MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> PaginationParams:
    return PaginationParams(limit=limit, cursor=cursor)


PaginationDep = Annotated[PaginationParams, Depends(get_pagination)]


def _column(field: Any) -> Any:
    """The table column of a mapped attribute (`SfUser.name`)."""
    return field.expression


def _python_type(column: Any) -> type:
    try:
        kind: type = column.type.python_type
    except NotImplementedError:
        return str
    return kind


_FROM_JSON: dict[type, Callable[[Any], Any]] = {
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
    uuid.UUID: uuid.UUID,
}


def _to_json(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value


def _from_json(column: Any, value: Any) -> Any:
    if value is None:
        return None
    kind = _python_type(column)
    parse = _FROM_JSON.get(kind, str)
    if parse is str and not isinstance(value, str):
        raise ValueError("a text key that is not text")
    return parse(value)


_LIST_NAMES: set[str] = set()
"""The `Sorting.name` of every list declared: a cursor tells its list by it, so no two share one."""


@dataclass(frozen=True)
class Sorting:
    """The fields one list may be sorted by: `sort=field` ascending, `sort=-field` descending,
    ties broken by `id_column` in the same direction; `default` is the order without `sort`."""

    name: str
    """The list's stable name, written into its cursors: a cursor continues only the list that
    issued it (never renamed, or the list's cursors in flight stop working)."""
    id_column: Any
    fields: Mapping[str, Any]
    """Each sortable field's name on the wire, and its column."""
    default: str

    def __post_init__(self) -> None:
        if self.name in _LIST_NAMES:
            raise ValueError(f"Two lists are named {self.name!r}: their cursors would be interchangeable.")
        _LIST_NAMES.add(self.name)

    @property
    def allowed(self) -> list[str]:
        return [*self.fields, *(f"-{name}" for name in self.fields)]

    @property
    def description(self) -> str:
        """The `sort` parameter's description, from what the fields' columns can hold: the
        tie-break only if a field can tie (is not unique), the null order only for the fields
        that can be null."""
        text = "Sort order: a field ascending, `-field` descending"
        if not all(self._unique(column) for column in self.fields.values()):
            text += "; ties by id in the same direction"
        nullable = [f"`{name}`" for name, column in self.fields.items() if _column(column).nullable]
        if nullable:
            text += f"; nulls ({', '.join(nullable)}) last ascending, first descending"
        return f"{text}. Default `{self.default}`."

    def _unique(self, field: Any) -> bool:
        """Whether no two rows can share the field's value: the id, a primary key, or a column
        with a unique constraint or index of its own."""
        column = _column(field)
        if field is self.id_column or column.primary_key or column.unique:
            return True
        table = column.table
        alone = [
            *(c.columns for c in table.constraints if isinstance(c, UniqueConstraint)),
            *(i.columns for i in table.indexes if i.unique),
        ]
        return any(list(columns) == [column] for columns in alone)

    def check(self, sort: str) -> str:
        """`sort`, or the default for an empty one (absent, as every empty query parameter)."""
        if not sort:
            return self.default
        if sort not in self.allowed:
            raise InvalidSortError(
                f"`sort` {sort!r} is not a sort of this list; use one of {', '.join(self.allowed)} "
                "(a leading `-` sorts descending)."
            )
        return sort

    def depends(self) -> Any:
        """The `Depends` of a list sorted this way: `limit` and `cursor` (`get_pagination`) and
        `sort`, published in the OpenAPI document as an enum of `allowed`."""

        def sorted_pagination(pagination: PaginationParams, sort: str) -> SortedPagination:
            with parameters("query", "sort"):
                checked = self.check(sort)
            return SortedPagination(self, checked, pagination.limit, pagination.cursor)

        sort = Annotated[str, Query(description=self.description, json_schema_extra={"enum": self.allowed})]
        keyword = inspect.Parameter.KEYWORD_ONLY
        sorted_pagination.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter("pagination", keyword, annotation=PaginationDep),
                inspect.Parameter("sort", keyword, annotation=sort, default=self.default),
            ]
        )
        return Depends(sorted_pagination)


@dataclass(frozen=True)
class SortedPagination:
    """A sorted list request: its `Sorting`, the checked `sort`, `limit` and `cursor`. Services
    fetch with `keyset()`; `page` turns the rows into the answer, each cursor carrying the list's
    name and the sort."""

    sorting: Sorting
    sort: str
    limit: int
    cursor: str | None

    @property
    def _column(self) -> Any:
        return self.sorting.fields[self.sort.removeprefix("-")]

    def keyset(self) -> Keyset:
        """The order, the position after the cursor's row, and `limit + 1` rows (one past the
        page, fetched only to tell whether a next page exists)."""
        with parameters("query", "cursor"):
            after = self._after()
        return Keyset(
            column=self._column,
            id_column=self.sorting.id_column,
            limit=self.limit + 1,
            descending=self.sort.startswith("-"),
            after=after,
        )

    def _after(self) -> tuple[Any, Any] | None:
        key = _decode_cursor(self.cursor)
        if key is None:
            return None
        try:
            decoded = json.loads(key)
        except ValueError as exc:
            raise _invalid_cursor() from exc
        if not isinstance(decoded, list) or len(decoded) != 4:
            raise _invalid_cursor()
        list_name, sort, value, row_id = decoded
        # Another list's cursor is as foreign as one no list issued, whatever its sort.
        if list_name != self.sorting.name or not isinstance(sort, str):
            raise _invalid_cursor()
        if sort != self.sort:
            raise InvalidCursorError(
                f"This `cursor` continues `sort={sort}`, not `sort={self.sort}`: send the sort of "
                "the first page with it, or start again without `cursor`."
            )
        try:
            return _from_json(self._column, value), _from_json(self.sorting.id_column, row_id)
        except (ValueError, TypeError) as exc:
            raise _invalid_cursor() from exc

    def cursor_of(self, row: Any) -> str:
        value = getattr(row, self._column.key)
        row_id = getattr(row, self.sorting.id_column.key)
        return _encode_cursor(json.dumps([self.sorting.name, self.sort, _to_json(value), _to_json(row_id)]))

    def page(self, rows: Sequence[R], *, public: Callable[[R], T]) -> Page[T]:
        """The page of `rows` fetched with `keyset()`: the first `limit`, and a `next_cursor`
        when the one row past them exists."""
        shown = rows[: self.limit]
        next_cursor = self.cursor_of(shown[-1]) if len(rows) > self.limit else None
        return Page[T](items=[public(row) for row in shown], next_cursor=next_cursor)
