"""Monthly quotas per rep (docs/domain.md: quota): set one, list them, or load many all-or-nothing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from salescoach_core.errors import UnprocessableError
from salescoach_core.models import Quota, SfUser
from salescoach_core.periods import YEAR
from salescoach_core.reps import normalise_user_id
from salescoach_core.sfids import to18

MONTH_PATTERN = re.compile(rf"^{YEAR}-(0[1-9]|1[0-2])$")
MAX_AMOUNT = Decimal("1e15")
CSV_COLUMNS = ("rep_id", "month", "amount")


class InvalidMonthError(UnprocessableError):
    code = "invalid_month"
    title = "Invalid month"


class InvalidQuotaRowsError(UnprocessableError):
    code = "invalid_quota_rows"
    title = "Quota rows rejected"


@dataclass(frozen=True)
class QuotaRow:
    rep_id: str
    month: date
    amount: Decimal


def parse_month(value: str) -> date:
    match = MONTH_PATTERN.match(value)
    if not match:
        raise InvalidMonthError(f"Month {value!r} must be written YYYY-MM (years 1900-2999), e.g. 2026-10.")
    return date(int(match[1]), int(match[2]), 1)


def set_quota(session: Session, *, rep_id: str, month: date, amount: Decimal) -> Quota:
    """Create or replace the rep's quota for one month."""
    rep_id = normalise_user_id(rep_id)
    upsert_quotas(session, [QuotaRow(rep_id, month, amount)])
    quota = session.exec(select(Quota).where(Quota.rep_id == rep_id, Quota.month == month)).one()
    session.refresh(quota)
    return quota


def list_quotas(session: Session, *, rep_id: str) -> Sequence[Quota]:
    rep_id = normalise_user_id(rep_id)
    return session.exec(select(Quota).where(Quota.rep_id == rep_id).order_by(col(Quota.month))).all()


def upsert_quotas(session: Session, rows: Sequence[QuotaRow]) -> int:
    """Insert or replace quotas in one statement; returns how many rows were written."""
    if not rows:
        return 0
    # clock_timestamp(), not now(): each write gets its own instant even inside one transaction,
    # so max(updated_at) moves with every change (the scorecard cache keys on it).
    statement = insert(Quota).values(
        [
            {
                "rep_id": row.rep_id,
                "month": row.month,
                "amount": row.amount,
                "updated_at": func.clock_timestamp(),
            }
            for row in rows
        ]
    )
    statement = statement.on_conflict_do_update(
        index_elements=["rep_id", "month"],
        set_={"amount": statement.excluded.amount, "updated_at": func.clock_timestamp()},
    )
    session.execute(statement)
    session.flush()
    return len(rows)


def validate_rows(session: Session, raw_rows: Sequence[dict[str, Any]]) -> list[QuotaRow]:
    """Every row checked; any error rejects them all, naming each bad row (1-based) and field."""
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, str, date, Decimal]] = []
    for number, raw in enumerate(raw_rows, start=1):
        row_errors = []
        rep_id = month = amount = None
        try:
            rep_id = to18(str(raw.get("rep_id") or "").strip())
        except ValueError as exc:
            row_errors.append({"row": number, "field": "rep_id", "message": str(exc)})
        try:
            month = parse_month(str(raw.get("month") or "").strip())
        except InvalidMonthError as exc:
            row_errors.append({"row": number, "field": "month", "message": exc.detail})
        try:
            amount = Decimal(str(raw.get("amount")).strip())
            if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
                raise InvalidOperation
            if amount != amount.quantize(Decimal("0.01")):
                row_errors.append({"row": number, "field": "amount", "message": "at most 2 decimal places"})
        except (InvalidOperation, ValueError):
            row_errors.append(
                {"row": number, "field": "amount", "message": f"{raw.get('amount')!r} is not an amount >= 0"}
            )
        if row_errors:
            errors.extend(row_errors)
        else:
            assert rep_id is not None
            assert month is not None
            assert amount is not None
            parsed.append((number, rep_id, month, amount))

    known = set(
        session.exec(select(SfUser.id).where(col(SfUser.id).in_({rep_id for _, rep_id, _, _ in parsed})))
    )
    seen: dict[tuple[str, date], int] = {}
    for number, rep_id, month, _ in parsed:
        if rep_id not in known:
            errors.append(
                {"row": number, "field": "rep_id", "message": f"no synced Salesforce user {rep_id}"}
            )
        if (rep_id, month) in seen:
            errors.append(
                {
                    "row": number,
                    "field": "month",
                    "message": f"same rep and month as row {seen[rep_id, month]}",
                }
            )
        seen.setdefault((rep_id, month), number)
    if errors:
        rows_named = sorted({e["row"] for e in errors})
        raise InvalidQuotaRowsError(
            f"{len(rows_named)} of {len(raw_rows)} rows are invalid (rows {_ranges(rows_named)}); "
            "nothing was saved. Fix them and send all rows again.",
            row_errors=errors,
        )
    return [QuotaRow(rep_id, month, amount) for _, rep_id, month, amount in parsed]


def parse_csv(content: bytes) -> list[dict[str, Any]]:
    """Rows of a `rep_id,month,amount` CSV (header required, UTF-8, BOM tolerated)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidQuotaRowsError("The CSV is not UTF-8 text.") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in (reader.fieldnames or [])]
        if tuple(header) != CSV_COLUMNS:
            raise InvalidQuotaRowsError(
                f"The CSV header must be exactly {','.join(CSV_COLUMNS)}; "
                f"got {','.join(header) or 'nothing'}."
            )
        rows = [
            dict(zip(CSV_COLUMNS, (row.get(k) for k in reader.fieldnames or []), strict=False))
            for row in reader
        ]
    except csv.Error as exc:
        # What the csv module refuses (a field over its size limit, say): not a CSV we can read.
        raise InvalidQuotaRowsError(
            f"The CSV cannot be read at line {reader.line_num}: {exc}. Send one quota per line "
            "as rep_id,month,amount."
        ) from exc
    if not rows:
        raise InvalidQuotaRowsError("The CSV has a header but no rows.")
    return rows


def _ranges(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:20])
    return shown + (f" and {len(numbers) - 20} more" if len(numbers) > 20 else "")
