"""Figures on the wire: Decimal in the code and the database, a JSON number in every answer."""

from __future__ import annotations

from decimal import Decimal


def json_number(value: Decimal | None) -> float | None:
    """A stored figure as the JSON number REST, events, webhooks and exports' JSON all send.

    Stored figures are rounded to their column's places (4 for goal figures, cents for money),
    which a double holds exactly to the digits shown."""
    return None if value is None else float(value)
