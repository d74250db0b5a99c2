"""Revisions of the records people edit (coaching goals, sessions and action items): optimistic
concurrency, so two coaches editing one record in two browser tabs cannot silently overwrite
each other.

A record's `revision` is 1 when it is created and one more on every change of what it says: each
accepted write of the API (even one that leaves the fields as they were), an action item
completed from its Salesforce Task, a goal closed at the end of its period. Figures the server
maintains (goal progress) and the write-back bookkeeping (`writeback`) change without a new
revision, so a coach's tag does not go stale while nobody touched the record.

The check of the revision a writer read and the new revision are one conditional UPDATE
(`claim_revision`), never a read followed by a write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Table, inspect, select, update
from sqlmodel import Session, SQLModel

from salescoach_core.errors import PreconditionFailedError

RowT = TypeVar("RowT", bound=SQLModel)

RECORD_NAMES = {"coaching_goal": "goal", "coaching_session": "session", "action_item": "action item"}


def etag_of(revision: int) -> str:
    """The entity tag of a record at `revision`, as the API sends it in `ETag`: `"3"`."""
    return f'"{revision}"'


@dataclass(frozen=True)
class Precondition:
    """What a write requires of the record's current revision (an `If-Match` header)."""

    revisions: frozenset[int] | None
    """The revisions the writer accepts; None for any (`If-Match: *`); empty when none of the
    tags sent is one the API gives (a weak or foreign tag), so nothing matches."""
    sent: str
    """The header as sent, for the refusal's message."""


def _table(row: SQLModel) -> Table:
    table = inspect(type(row)).local_table
    assert isinstance(table, Table)
    return table


def claim_revision(session: Session, row: RowT, precondition: Precondition | None) -> RowT:
    """Count a new revision of `row` if it still meets `precondition`, in one UPDATE, then read
    `row` again under the row lock that UPDATE took (it lasts until the transaction ends).

    Every API write of a revisioned record calls this before it checks the record's state (in
    place of `lock_row`). Of two writers holding the same revision, the second's UPDATE waits
    for the first's transaction, finds the revision changed (READ COMMITTED re-checks the WHERE
    on the row it waited for), updates nothing and is refused with 412. A refusal raised later
    in the same transaction (409, 422) rolls the new revision back with everything else.
    """
    table = _table(row)
    statement = (
        update(table)
        .where(table.c.id == row.id)  # type: ignore[attr-defined]
        .values(revision=table.c.revision + 1)
        .returning(table.c.revision)
    )
    if precondition is not None and precondition.revisions is not None:
        statement = statement.where(table.c.revision.in_(sorted(precondition.revisions)))
    if session.execute(statement).first() is None and precondition is not None:
        current = session.execute(
            select(table.c.revision).where(table.c.id == row.id)  # type: ignore[attr-defined]
        ).scalar_one_or_none()
        raise _refusal(table, row, precondition, current)
    session.refresh(row)
    return row


def _refusal(
    table: Table, row: Any, precondition: Precondition, current: int | None
) -> PreconditionFailedError:
    name = RECORD_NAMES.get(table.name, table.name)
    now = "it no longer exists" if current is None else f"its ETag is now {etag_of(current)}"
    weak = (
        " A weak tag (W/...) never matches: send the ETag exactly as the API gave it."
        if precondition.sent.lstrip().startswith("W/")
        else ""
    )
    return PreconditionFailedError(
        f"The {name} {row.id} has changed since you read it (If-Match: {precondition.sent}; {now}), "
        f"so nothing was changed. GET it again, apply your change to what it now says, and send "
        f"the new ETag in If-Match.{weak}"
    )
