"""Wire types every schema shares: money, rates, and the input types that keep out what
the database cannot store or give back (docs/errors.md, "Input limits")."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from salescoach_core.periods import FIRST_DAY, LAST_DAY
from salescoach_core.sfids import to18

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
FractionalCount = Annotated[
    Decimal,
    PlainSerializer(lambda v: float(v.quantize(CENT)), return_type=float, when_used="json"),
    Field(description="A count that need not be whole (an average, a prorated number), to 2 decimal places."),
]

# --- input: what PostgreSQL and every JSON reader can take and give back

# NUL cannot be stored in a PostgreSQL text or jsonb value; a lone surrogate cannot be encoded
# as UTF-8. Both arrive through JSON escapes ("\u0000", "\ud800") and would fail at storage.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Integers beyond 2**53 lose digits in JavaScript and other double-based JSON readers.
MAX_JSON_INTEGER = 2**53 - 1
MAX_JSON_DEPTH = 16
MAX_JSON_OBJECT_BYTES = 16 * 1024

# The pydantic error types raised here; a 422 whose errors are all of one of them carries it as
# its problem `code` (problems.py).
INPUT_ERROR_TYPES = (
    "invalid_text",
    "invalid_id",
    "date_out_of_range",
    "number_out_of_range",
    "json_too_large",
    "json_too_deep",
)


def has_unstorable_text(value: str) -> bool:
    return _UNSTORABLE.search(value) is not None


def _text_error(where: str) -> PydanticCustomError:
    return PydanticCustomError(
        "invalid_text",
        "{where} contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored",
        {"where": where},
    )


def check_storable(value: Any, where: str = "value", depth: int = 0) -> None:
    """Raise for text, keys or numbers anywhere in `value` that storage or a reader would refuse."""
    if depth > MAX_JSON_DEPTH:
        raise PydanticCustomError(
            "json_too_deep",
            "{where} is nested deeper than {depth} levels",
            {"where": where, "depth": MAX_JSON_DEPTH},
        )
    if isinstance(value, str):
        if has_unstorable_text(value):
            raise _text_error(where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_JSON_INTEGER:
            raise PydanticCustomError(
                "number_out_of_range",
                "{where} is an integer beyond +-2**53, which JSON readers cannot hold exactly",
                {"where": where},
            )
    elif isinstance(value, float | Decimal):
        if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
            raise PydanticCustomError("finite_number", "{where} must be a finite number", {"where": where})
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and has_unstorable_text(key):
                raise _text_error(f"a key of {where}")
            check_storable(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_storable(item, f"{where}[{index}]", depth + 1)


class RequestModel(BaseModel):
    """Base of every request body: no field, at any depth, holds text or a number that the
    database cannot store or a JSON reader cannot read back (422 `invalid_text`, ...)."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        # Nested request models checked their own fields; only plain values are walked here.
        if not isinstance(value, BaseModel):
            check_storable(value)
        return value


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    check_storable(value)
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_JSON_OBJECT_BYTES:
        raise PydanticCustomError(
            "json_too_large",
            "the object is {size} bytes as JSON; at most {limit} are kept",
            {"size": size, "limit": MAX_JSON_OBJECT_BYTES},
        )
    return value


JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(_bounded_json),
    Field(
        description=f"A JSON object of at most {MAX_JSON_OBJECT_BYTES // 1024} KiB and {MAX_JSON_DEPTH} "
        f"levels; integers within +-(2**53 - 1)."
    ),
]


@dataclass(frozen=True)
class NumericColumn:
    """`Annotated[Decimal, NumericColumn(18, 4)]`: a decimal that fits a `Numeric(18, 4)` column:
    finite, rounded half-even to 4 places (as PostgreSQL would), below 10**14 in magnitude."""

    precision: int
    scale: int

    @property
    def bound(self) -> Decimal:
        return Decimal(10) ** (self.precision - self.scale)

    def _fit(self, value: Decimal) -> Decimal:
        if abs(value) >= self.bound:
            raise PydanticCustomError(
                "number_out_of_range",
                "must be greater than -{bound} and less than {bound}",
                {"bound": str(self.bound)},
            )
        rounded = value.quantize(Decimal(1).scaleb(-self.scale), rounding=ROUND_HALF_EVEN)
        if abs(rounded) >= self.bound:
            return self._fit(rounded)
        return rounded

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._fit, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(exclusiveMinimum=-float(self.bound), exclusiveMaximum=float(self.bound))
        return json_schema


def _in_supported_years(value: date) -> None:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise PydanticCustomError(
            "date_out_of_range",
            "must lie between {first} and {last}",
            {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
        )


def _day(value: date) -> date:
    _in_supported_years(value)
    return value


def _instant(value: datetime) -> datetime:
    # Both the local date and the UTC one: `9999-12-31T23:59:59-14:00` is year 10000 in UTC,
    # which PostgreSQL stores but Python cannot read back.
    _in_supported_years(value.date())
    if value.tzinfo is not None:
        _in_supported_years(value.astimezone(UTC).date())
    return value


Day = Annotated[date, AfterValidator(_day)]
"""A date between 1900-01-01 and 2999-12-31, the years periods accept."""
Instant = Annotated[AwareDatetime, AfterValidator(_instant)]
"""A date-time with a UTC offset, in the years of `Day` both locally and in UTC."""

SALESFORCE_ID_PATTERN = "^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$"
_SF_ID_SCHEMA = {"minLength": 15, "maxLength": 18, "pattern": SALESFORCE_ID_PATTERN}


def _salesforce_id(value: str) -> str:
    try:
        return to18(value)
    except ValueError as exc:
        raise PydanticCustomError("invalid_id", "{reason}", {"reason": str(exc)}) from exc


# Length and alphabet are documented, not validated by them: any malformed id is one error,
# `invalid_id`, whatever is wrong with it. Normalised to 18 characters.
SalesforceId = Annotated[
    str,
    AfterValidator(_salesforce_id),
    Field(examples=["0055e000001AbCdEAF"], json_schema_extra=_SF_ID_SCHEMA),
]
