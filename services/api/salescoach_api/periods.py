"""The `period` / `from` / `to` query parameters of every read over a period, parsed once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from salescoach_api.types import Day
from salescoach_core.periods import Period

PeriodQuery = Annotated[
    str | None, Query(description="A month (`2026-10`) or a quarter (`2026-Q4`). Or give `from` and `to`.")
]
FromQuery = Annotated[Day | None, Query(alias="from", description="First day (inclusive), with `to`.")]
ToQuery = Annotated[Day | None, Query(description="Day after the last (exclusive), with `from`.")]


def get_period(period: PeriodQuery = None, from_: FromQuery = None, to: ToQuery = None) -> Period:
    """422 `invalid_period` naming the accepted forms when the parameters do not make one."""
    return Period.parse(period, from_, to)


PeriodDep = Annotated[Period, Depends(get_period)]
