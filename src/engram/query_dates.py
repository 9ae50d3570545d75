"""Dates a query names ("on 8 May, 2023", "in August 2023", "during 2022"), as a range of days.

Search lifts the memories dated inside the range (``search.Weights.dated``): asked "what did she
buy in August 2023?", a memory of that month comes before a similar one of another. Only explicit
dates are read (English month names, a four-digit year); a bare "May" is too often a verb.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

_MONTHS = (
    {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
    | {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
    | {"sept": 9}
)
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE)
_YEAR_ALONE = re.compile(rf"\b{_YEAR}\b")

DateRange = tuple[date, date]
"""First and last day, both included."""


def query_date_range(text: str) -> DateRange | None:
    """The most precise date range ``text`` names, or None."""
    if not _YEAR_ALONE.search(text):  # every form names a year: most queries stop here, cheaply
        return None
    for pattern, day_first in ((_DAY_MONTH_YEAR, True), (_MONTH_DAY_YEAR, False)):
        if match := pattern.search(text):
            day, month = (match[1], match[2]) if day_first else (match[2], match[1])
            if (found := _day(int(match[3]), _MONTHS[month.lower()], int(day))) is not None:
                return found, found
    if match := _MONTH_YEAR.search(text):
        year, month = int(match[2]), _MONTHS[match[1].lower()]
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    if match := _YEAR_ALONE.search(text):
        year = int(match[1])
        return date(year, 1, 1), date(year, 12, 31)
    return None


def within(day: date, span: DateRange, slack_days: int = 0) -> bool:
    return span[0] - timedelta(days=slack_days) <= day <= span[1] + timedelta(days=slack_days)


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # "31 February": not a date
        return None
