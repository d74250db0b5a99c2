"""Elapsed working days of a period, counted by hand on the calendar, in the org's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from salescoach_core.periods import Period

DECEMBER = Period.month(2026, 12)  # 1 December 2026 is a Tuesday


def test_working_days_are_the_weekdays_that_have_fully_passed() -> None:
    # Before 8 December: Tue 1, Wed 2, Thu 3, Fri 4, Mon 7 (Sat 5 and Sun 6 do not count).
    assert DECEMBER.elapsed_working_days(datetime(2026, 12, 8, 9, tzinfo=UTC), UTC) == 5
    assert DECEMBER.elapsed_working_days(datetime(2026, 12, 1, 23, tzinfo=UTC), UTC) == 0


def test_working_days_are_counted_in_the_org_zone() -> None:
    # 8 December 02:00 UTC is still 7 December in Los Angeles: Monday the 7th has not passed there.
    assert (
        DECEMBER.elapsed_working_days(datetime(2026, 12, 8, 2, tzinfo=UTC), ZoneInfo("America/Los_Angeles"))
        == 4
    )


def test_working_days_stop_at_the_period_end_and_are_zero_before_it_starts() -> None:
    # December 2026: Tue 1 to Fri 4, three full weeks, Mon 28 to Thu 31: 4 + 15 + 4 = 23 weekdays.
    assert DECEMBER.elapsed_working_days(datetime(2027, 2, 1, tzinfo=UTC), UTC) == 23
    assert DECEMBER.elapsed_working_days(datetime(2026, 11, 20, tzinfo=UTC), UTC) == 0


def test_a_range_that_is_exactly_a_month_or_a_quarter_is_that_month_or_quarter() -> None:
    assert Period.range(date(2026, 10, 1), date(2027, 1, 1)) == Period.quarter(2026, 4)
    assert Period.range(date(2026, 2, 1), date(2026, 3, 1)) == Period.month(2026, 2)
    # Three months starting in February are not a quarter; a year is not one either.
    assert Period.range(date(2026, 2, 1), date(2026, 5, 1)).label == "2026-02-01..2026-05-01"
    assert Period.range(date(2026, 1, 1), date(2027, 1, 1)).kind == "range"


def test_blank_parameters_are_no_period() -> None:
    assert Period.given("", None, None) is None
    # A blank `period` beside a range is the range (a goal's body, the query alike).
    assert Period.given("", date(2026, 10, 5), date(2026, 11, 5)) == Period.range(
        date(2026, 10, 5), date(2026, 11, 5)
    )
    assert Period.given(None, None, None) is None
    assert Period.given("2026-Q4") == Period.quarter(2026, 4)
