"""Shared by the coaching routers: who acts (for histories) and keyset cursors over (time, id)."""

from __future__ import annotations

import uuid
from datetime import datetime

from salescoach_api.types import InvalidCursorError, decode_cursor, encode_cursor
from salescoach_core.access import Principal


def actor_of(principal: Principal) -> str:
    """How a change's author is recorded: the credential kind and its stable subject."""
    return f"{principal.kind}:{principal.subject}"


def time_id_cursor(moment: datetime, row_id: uuid.UUID) -> str:
    return encode_cursor(f"{moment.isoformat()}|{row_id}")


def parse_time_id_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    moment, _, row_id = key.partition("|")
    try:
        return datetime.fromisoformat(moment), uuid.UUID(row_id)
    except ValueError as exc:
        raise InvalidCursorError("`cursor` is not one this API issued; start again without it.") from exc
