"""Periods (docs/domain.md, "Periods"): a month, a quarter or a half-open date range, in the org's zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from salescoach_core.errors import UnprocessableError

# Years a sales org can have data for; also keeps date arithmetic clear of year 0 and 10000.
YEAR = r"((?:19|2\d)\d{2})"
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
_MONTH = re.compile(rf"^{YEAR}-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(rf"^{YEAR}-Q([1-4])$")


class InvalidPeriodError(UnprocessableError):
    code = "invalid_period"
    title = "Invalid period"


@dataclass(frozen=True)
class Period:
    """Dates `[start, end)` in the org's zone. `label` is how a client names it."""

    start: date
    end: date
    kind: Literal["month", "quarter", "range"]
    label: str

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = check_day(date(year, month, 1), "period")
        return cls(start, add_months(start, 1), "month", f"{year:04d}-{month:02d}")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        start = check_day(date(year, 3 * (quarter - 1) + 1, 1), "period")
        return cls(start, add_months(start, 3), "quarter", f"{year:04d}-Q{quarter}")

    @classmethod
    def range(cls, start: date, end: date) -> Period:
        """`[start, end)`. Exactly a calendar month or quarter is that month or quarter, so a
        period has one label however it was asked for; any other range is `2026-10-05..2026-11-05`."""
        if end <= start:
            raise InvalidPeriodError(
                f"`to` ({end}) must be after `from` ({start}); the range is [from, to).", inputs=("to",)
            )
        check_day(start, "from")
        check_day(end, "to")
        if start.day == 1 and end == add_months(start, 1):
            return cls.month(start.year, start.month)
        if start.day == 1 and start.month % 3 == 1 and end == add_months(start, 3):
            return cls.quarter(start.year, start.month // 3 + 1)
        return cls(start, end, "range", f"{start.isoformat()}..{end.isoformat()}")

    @classmethod
    def given(cls, period: str | None, start: date | None = None, end: date | None = None) -> Period | None:
        """From `period=2026-10` / `period=2026-Q4`, or `from=` and `to=` (half-open); None when
        neither form is given. An empty `period` is not given: the one place that says so for
        the API's query and a goal's body alike (an empty `from`/`to` never gets here as a
        date: the API's parameters treat it as absent before parsing it)."""
        period = period or None
        if period is not None and (start is not None or end is not None):
            raise InvalidPeriodError(
                "Give either `period` (2026-10 or 2026-Q4) or `from` and `to` (a half-open range of days), "
                "not both.",
                inputs=[
                    name
                    for name, value in (("period", period), ("from", start), ("to", end))
                    if value is not None
                ],
            )
        if period is not None:
            if match := _MONTH.match(period):
                return cls.month(int(match[1]), int(match[2]))
            if match := _QUARTER.match(period):
                return cls.quarter(int(match[1]), int(match[2]))
            raise InvalidPeriodError(
                f"`period` {period!r} is neither a month (2026-10) nor a quarter (2026-Q4).",
                inputs=("period",),
            )
        if start is None and end is None:
            return None
        if start is None or end is None:
            missing = "from" if start is None else "to"
            raise InvalidPeriodError(
                f"`from` and `to` go together: give `{missing}` too "
                "(`to` is the day after the last), or `period` instead.",
                inputs=(missing,),
            )
        return cls.range(start, end)

    @classmethod
    def parse(cls, period: str | None, start: date | None = None, end: date | None = None) -> Period:
        """As `given`, where a period is required."""
        chosen = cls.given(period, start, end)
        if chosen is None:
            raise InvalidPeriodError("Give `period` (2026-10 or 2026-Q4), or both `from` and `to`.")
        return chosen

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def instants(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as `[start, end)` instants: midnight in the org's zone at each bound."""
        return (
            datetime.combine(self.start, time.min, tzinfo=zone),
            datetime.combine(self.end, time.min, tzinfo=zone),
        )

    def elapsed_fraction(self, now: datetime, zone: ZoneInfo) -> Decimal:
        """Share of the period that has passed at `now`: 0 before it starts, 1 once it ended."""
        begin, finish = self.instants(zone)
        if now >= finish:
            return Decimal(1)
        if now <= begin:
            return Decimal(0)
        return Decimal((now - begin).total_seconds()) / Decimal((finish - begin).total_seconds())

    def is_running(self, now: datetime, zone: ZoneInfo) -> bool:
        begin, finish = self.instants(zone)
        return begin <= now < finish

    def elapsed_working_days(self, now: datetime, zone: ZoneInfo) -> int:
        """Weekdays (Mon-Fri) of the period that have fully passed at `now`, in the org's zone:
        today does not count until it is over."""
        last = min(now.astimezone(zone).date(), self.end)
        return working_days(self.start, last) if last > self.start else 0

    def months(self) -> list[tuple[date, Decimal]]:
        """Each calendar month the period touches, with the share of that month inside it.

        A month or quarter covers its months fully (share 1); a range that cuts a month takes
        that month's share by days (docs/metrics.md: quota of a custom range).
        """
        covered = []
        month_start = self.start.replace(day=1)
        while month_start < self.end:
            month_end = add_months(month_start, 1)
            overlap = (min(month_end, self.end) - max(month_start, self.start)).days
            share = Decimal(overlap) / Decimal((month_end - month_start).days)
            covered.append((month_start, share))
            month_start = month_end
        return covered

    def previous_months(self, count: int) -> Period:
        """The `count` full months before the month this period starts in."""
        first = self.start.replace(day=1)
        return Period.range(add_months(first, -count), first)


def check_day(day: date, given_as: str | None = None) -> date:
    """`day`, if it lies in the years salescoach handles; else a 422 saying which ones, about the
    input `given_as` (`from`, `to`, `period`) when there is one."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidPeriodError(
            f"{day} is outside the supported dates, {FIRST_DAY} to {LAST_DAY}.",
            inputs=() if given_as is None else (given_as,),
        )
    return day


def working_days(start: date, end: date) -> int:
    """Mondays to Fridays in `[start, end)`: whole weeks, then the weekdays of the remainder."""
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    return weeks * 5 + sum(1 for offset in range(rest) if (start.weekday() + offset) % 7 < 5)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_of(day: date) -> Period:
    return Period.month(day.year, day.month)


def running_month(now: datetime, zone: ZoneInfo) -> Period:
    """The month `now` falls in, in the org's zone: the period of a read that names none."""
    return month_of(now.astimezone(zone).date())
