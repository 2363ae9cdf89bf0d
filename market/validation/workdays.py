"""Working days: Monday–Friday, less the public holidays, plus the make-up working days (调休), from
the maintained ``chinesecalendar`` package (the State Council's yearly notices). A year the package
does not cover yet counts Monday–Friday only, and says so in the log once."""

import logging
from datetime import date, timedelta
from functools import cache

import chinese_calendar

log = logging.getLogger(__name__)


@cache
def _uncovered(year: int) -> bool:
    log.warning(
        "chinesecalendar %s has no holiday notice for %d: counting Monday–Friday only "
        "(upgrade the package once the State Council publishes it)",
        chinese_calendar.__version__,
        year,
    )
    return True


def is_working_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _uncovered(day.year)
        return day.weekday() < 5


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after ``start`` (``start`` itself does not count)."""
    if n < 0:
        raise ValueError("n must not be negative")
    day = start
    while n:
        day += timedelta(days=1)
        n -= is_working_day(day)
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end``; negative when ``end`` is earlier."""
    if end < start:
        return -working_days_between(end, start)
    return sum(is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))
