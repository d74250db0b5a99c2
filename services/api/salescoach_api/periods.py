"""The `period` / `from` / `to` query parameters of every operation over a period, parsed once
(docs/api.md, "Periods")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BeforeValidator

from salescoach_api.dependencies import NowDep, SettingsDep
from salescoach_api.problems import parameters
from salescoach_api.types import Day
from salescoach_core.periods import Period, running_month
from salescoach_core.scorecards.config import ScorecardConfig

_DEFAULT = (
    "Without `period`, `from` and `to`: the running month in the org's time zone "
    "(`SALESCOACH_ORG_TIMEZONE`); on the exports of records, no filter."
)


def _blank_day_is_absent(value: Any) -> Any:
    """`?from=` / `?to=` as absent: what a form or a URL template sends for "not chosen".

    Here, not in `Period.given`, because a day is parsed (and checked, `Day`) before any code of
    ours sees it, and an empty string is no date. A blank `period` is text that reaches
    `Period.given` as it came, which treats it as absent for every caller (these parameters and
    a goal's body alike): it is not repeated here."""
    return None if value == "" else value


PeriodQuery = Annotated[
    str | None,
    Query(
        description=f"A month (`2026-10`) or a quarter (`2026-Q4`); or `from` and `to` instead. {_DEFAULT}",
        examples=["2026-Q4"],
    ),
]
FromQuery = Annotated[
    Day | None,
    BeforeValidator(_blank_day_is_absent),
    Query(alias="from", description=f"First day, inclusive; with `to`, instead of `period`. {_DEFAULT}"),
]
ToQuery = Annotated[
    Day | None,
    BeforeValidator(_blank_day_is_absent),
    Query(description=f"Day after the last, exclusive; with `from`, instead of `period`. {_DEFAULT}"),
]


def get_period_filter(
    period: PeriodQuery = None, from_: FromQuery = None, to: ToQuery = None
) -> Period | None:
    """The period the request names, or None; 422 `invalid_period` saying what to send when the
    parameters do not make one, naming in `errors[]` the ones at fault."""
    with parameters("query", "period", "from", "to"):
        return Period.given(period, from_, to)


PeriodFilterDep = Annotated[Period | None, Depends(get_period_filter)]
"""For filters over records: absent means every record."""


def get_period(given: PeriodFilterDep, settings: SettingsDep, now: NowDep) -> Period:
    return given or running_month(now, ScorecardConfig.from_settings(settings).zone)


PeriodDep = Annotated[Period, Depends(get_period)]
"""For figures over a period: absent means the running month."""
