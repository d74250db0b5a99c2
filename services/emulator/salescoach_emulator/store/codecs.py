"""Value codecs: a field's value between its CSV, stored (SQLite), and REST JSON forms.

Stored forms: booleans as 0/1, dates as ``YYYY-MM-DD``, datetimes as ``YYYY-MM-DDTHH:MM:SS.mmmZ``
text (sortable, and already the Bulk CSV form), numbers as REAL/INTEGER, ids as 18-char text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from salescoach_core.sfids import to18
from salescoach_emulator.schema import ID_TYPES, NUMBER_TYPES, FieldDef
from salescoach_emulator.soql import SoqlError, format_datetime, parse_datetime_literal
from salescoach_emulator.store.errors import RecordError

Record = dict[str, Any]


def _csv_bool(value: str) -> int | None:
    if value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return 1
    if lowered in ("false", "0"):
        return 0
    raise ValueError(f"not a boolean: {value!r}")


def _csv_datetime(value: str) -> str | None:
    if value == "":
        return None
    if len(value) == 24 and value[10] == "T" and value[-1] == "Z":
        return value
    return format_datetime(parse_datetime_literal(value))


def _csv_id(value: str) -> str | None:
    if value == "":
        return None
    return value if len(value) == 18 else to18(value)


def _csv_float(value: str) -> float | None:
    return float(value) if value else None


def _csv_int(value: str) -> int | None:
    return int(float(value)) if value else None


def _csv_date(value: str) -> str | None:
    return value[:10] if value else None


def csv_text(value: str) -> str | None:
    return value or None


CSV_IN: dict[str, Callable[[str], object]] = {
    "boolean": _csv_bool,
    "datetime": _csv_datetime,
    "date": _csv_date,
    "id": _csv_id,
    "reference": _csv_id,
    "double": _csv_float,
    "currency": _csv_float,
    "percent": _csv_float,
    "int": _csv_int,
}


def sql_type(fdef: FieldDef) -> str:
    if fdef.type in ("boolean", "int"):
        return "INTEGER"
    if fdef.type in NUMBER_TYPES:
        return "REAL"
    return "TEXT"


def json_in(fdef: FieldDef, value: object) -> object:
    """A REST JSON value converted to the stored form, or RecordError as Salesforce would."""
    if value is None or value == "":
        return None
    try:
        if fdef.type == "boolean":
            if isinstance(value, bool):
                return 1 if value else 0
            return _csv_bool(str(value))
        if fdef.type in ("double", "currency", "percent"):
            if isinstance(value, bool):
                raise ValueError("boolean for number")
            return float(value)  # type: ignore[arg-type]
        if fdef.type == "int":
            if isinstance(value, bool):
                raise ValueError("boolean for number")
            return int(float(value))  # type: ignore[arg-type]
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if fdef.type == "date":
            return date.fromisoformat(value[:10]).isoformat()
        if fdef.type == "datetime":
            return format_datetime(parse_datetime_literal(value))
        if fdef.type in ID_TYPES:
            try:
                return to18(value)
            except ValueError:
                raise RecordError(
                    "MALFORMED_ID", f"{fdef.name}: id value of incorrect type: {value}", fields=[fdef.name]
                ) from None
        return value
    except (ValueError, TypeError, SoqlError):
        raise RecordError(
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {fdef.type} from value {value!r} for {fdef.name}",
            fields=[fdef.name],
        ) from None


def _json_boolean(value: object) -> object:
    return None if value is None else bool(value)


def _json_datetime(value: object) -> object:
    return None if value is None else str(value)[:-1] + "+0000"


def json_as_stored(value: object) -> object:
    return value


def json_converter(fdef: FieldDef) -> Callable[[object], object]:
    """The function from a stored value of `fdef` to its REST JSON form (datetimes as
    ``...000+0000``), chosen once per field: a query page converts every row with it."""
    if fdef.type == "boolean":
        return _json_boolean
    if fdef.type == "datetime":
        return _json_datetime
    return json_as_stored


def json_out(fdef: FieldDef, value: object) -> object:
    """A stored value in REST JSON form."""
    return json_converter(fdef)(value)


def csv_out(fdef: FieldDef, value: object) -> str:
    """A stored value in Salesforce export CSV form."""
    if value is None:
        return ""
    if fdef.type == "boolean":
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def rest_datetime(value: datetime) -> str:
    """REST JSON datetime form: ``2026-02-13T19:51:30.000+0000``."""
    return format_datetime(value)[:-1] + "+0000"


def record_attributes(object_name: str, record_id: object, api_version: str) -> dict[str, str]:
    """A REST record's ``attributes``: its type and URL."""
    return {
        "type": object_name,
        "url": f"/services/data/v{api_version}/sobjects/{object_name}/{record_id}",
    }
