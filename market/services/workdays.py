"""Working days: Monday–Friday, less the public holidays, plus the make-up working days (调休)
listed in data/reference/holidays.json."""
import json
from datetime import date, timedelta
from functools import lru_cache

from ..config import REFERENCE_DIR


@lru_cache(maxsize=1)
def _calendar() -> tuple[frozenset[date], frozenset[date]]:
    with open(REFERENCE_DIR / "holidays.json", encoding="utf-8") as f:
        data = json.load(f)

    def days(table: dict) -> frozenset[date]:
        return frozenset(date.fromisoformat(d) for year in table.values() for d in year)

    return days(data.get("holidays", {})), days(data.get("workdays", {}))


def is_working_day(day: date) -> bool:
    holidays, workdays = _calendar()
    if day in workdays:
        return True
    return day.weekday() < 5 and day not in holidays


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
