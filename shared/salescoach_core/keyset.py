"""Keyset ("seek") paging of a sorted list: ORDER BY one sort column then the row's id, and the
WHERE that continues after the last row shown, never OFFSET (docs/api.md, "Sorting").

Nulls sort as PostgreSQL sorts them by default: after every value ascending, before every value
descending. So a descending order is exactly the reverse of the ascending one, ties included
(the id tie-breaker follows the direction), and one `(column, id)` B-tree index serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import Session

T = TypeVar("T")


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

    def fetch(self, session: Session, query: Select[T]) -> list[T]:
        """Up to `limit` rows of `query` in this order, after `after`.

        The rows after a position are one or two runs of the order (the values after it, then
        the nulls; or the rest of the nulls, then the values), each read as a range of the
        `(column, id)` index; an OR of the two would make PostgreSQL scan from the start."""
        order = self._order()
        rows: list[T] = []
        for run in self._runs():
            part = query if run is None else query.where(run)
            rows.extend(session.scalars(part.order_by(*order).limit(self.limit - len(rows))).all())
            if len(rows) == self.limit:
                break
        return rows

    @property
    def _by_id(self) -> bool:
        return bool(self.column is self.id_column)

    def _order(self) -> list[ColumnElement[Any]]:
        if self.descending:
            keys = [self.column.desc().nulls_first(), self.id_column.desc()]
        else:
            keys = [self.column.asc().nulls_last(), self.id_column.asc()]
        return keys[1:] if self._by_id else keys

    def _runs(self) -> list[ColumnElement[bool] | None]:
        """The conditions of the runs of rows after `after`, in order (None: every row)."""
        if self.after is None:
            return [None]
        value, row_id = self.after
        key, ident = self.column, self.id_column
        if self._by_id:
            return [ident < row_id if self.descending else ident > row_id]
        if value is None:
            # Inside the null group: the rest of it, then (descending) every value.
            rest_of_nulls = key.is_(None) & (ident < row_id if self.descending else ident > row_id)
            return [rest_of_nulls, key.is_not(None)] if self.descending else [rest_of_nulls]
        if self.descending:
            # The nulls came first; a row comparison with a null is never true, so they stay out.
            return [tuple_(key, ident) < tuple_(value, row_id)]
        beyond = tuple_(key, ident) > tuple_(value, row_id)
        return [beyond, key.is_(None)] if key.nullable else [beyond]
