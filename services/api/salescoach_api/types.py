"""Wire types every schema shares: money, rates, pages. See docs/api.md, "Numbers"."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, Field, PlainSerializer

from salescoach_core.errors import UnprocessableError

T = TypeVar("T")
R = TypeVar("R")
CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")


def _cents(value: Decimal) -> float:
    # Sums are exact Decimals; only the final figure becomes a JSON number, rounded half-even.
    return float(value.quantize(CENT, rounding=ROUND_HALF_EVEN))


def _rate(value: Decimal) -> float:
    return float(value.quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN))


Money = Annotated[
    Decimal,
    PlainSerializer(_cents, return_type=float, when_used="json"),
    Field(description="Currency amount, a JSON number rounded to cents."),
]
Rate = Annotated[
    Decimal,
    PlainSerializer(_rate, return_type=float, when_used="json"),
    Field(description="A fraction (1.0 = 100%), rounded to 4 decimal places."),
]
Days = Annotated[
    Decimal,
    PlainSerializer(lambda v: float(v.quantize(CENT)), return_type=float, when_used="json"),
    Field(description="Days, rounded to 2 decimal places."),
]
SalesforceId = Annotated[str, Field(min_length=15, max_length=18, examples=["0055e000001AbCdEAF"])]


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass `next_cursor` as `cursor` for the next page; null on the last."""

    items: list[T]
    next_cursor: str | None = None


def page_of(
    rows: Sequence[R], limit: int, *, public: Callable[[R], T], cursor_of: Callable[[R], str]
) -> Page[T]:
    """The page of `rows` fetched with `limit + 1`: the extra row only says a next page exists."""
    shown = rows[:limit]
    next_cursor = cursor_of(shown[-1]) if len(rows) > limit else None
    return Page[T](items=[public(row) for row in shown], next_cursor=next_cursor)


class InvalidCursorError(UnprocessableError):
    code = "invalid_cursor"


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        key = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        if not key:
            raise ValueError("empty cursor")
        return key
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursorError("`cursor` is not one this API issued; start again without it.") from exc
