"""Keyset ("seek") paging of a sorted list: ORDER BY one sort column then the row's id, and the
WHERE that continues after the last row shown, never OFFSET (docs/api.md, "Sorting").

Nulls sort as PostgreSQL sorts them by default: after every value ascending, before every value
descending. So a descending order is exactly the reverse of the ascending one, ties included
(the id tie-breaker follows the direction), and one `(column, id)` B-tree index serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, tuple_

Q = TypeVar("Q", bound=Select[Any])


@dataclass(frozen=True)
class Keyset:
    """One page of a list sorted by `column` (then `id_column`), after the row whose
    `(sort value, id)` is `after`."""

    column: Any
    """The sort key, a mapped attribute (`CoachingGoal.created_at`)."""
    id_column: Any
    """The row's unique id: the tie-breaker that makes the order total, so pages never overlap."""
    limit: int
    descending: bool = False
    after: tuple[Any, Any] | None = None

    def apply(self, query: Q) -> Q:
        """`query` ordered, continued after `after`, and cut at `limit`."""
        if self.after is not None:
            query = query.where(self._beyond(*self.after))
        return query.order_by(*self._order()).limit(self.limit)

    @property
    def _by_id(self) -> bool:
        return bool(self.column is self.id_column)

    def _order(self) -> list[ColumnElement[Any]]:
        if self.descending:
            keys = [self.column.desc().nulls_first(), self.id_column.desc()]
        else:
            keys = [self.column.asc().nulls_last(), self.id_column.asc()]
        return keys[1:] if self._by_id else keys

    def _beyond(self, value: Any, row_id: Any) -> ColumnElement[bool]:
        """Rows that come after `(value, row_id)` in this order."""
        key, ident = self.column, self.id_column
        if self._by_id:
            return ident < row_id if self.descending else ident > row_id  # type: ignore[no-any-return]
        if value is None:
            # Inside the null group: the rest of it, then (descending) every non-null value.
            rest_of_nulls: ColumnElement[bool] = key.is_(None) & (
                ident < row_id if self.descending else ident > row_id
            )
            return or_(rest_of_nulls, key.is_not(None)) if self.descending else rest_of_nulls
        if self.descending:
            # The nulls came first; a row comparison with a null is never true, so they stay out.
            return tuple_(key, ident) < tuple_(value, row_id)
        beyond = tuple_(key, ident) > tuple_(value, row_id)
        return or_(beyond, key.is_(None)) if key.nullable else beyond
