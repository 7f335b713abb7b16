"""The business calendar (DESIGN invariant 7): which days are working days, in one timezone.

Working days = weekdays − statutory holidays + adjusted working weekend days (调休), taken
from the maintained ``holidays`` package (country CN), then the ``[calendar]`` overrides.
A year the package has no official schedule for falls back to weekends only (plus the
overrides) and logs a warning once per year: a date is never a crash. Admins enter a newly
published year's schedule as overrides until the package catches up.

All functions take and return timezone-aware datetimes; due times are the office close of
a working day (``office_close``, 18:00 by default).
"""
import datetime as dt
import functools
import logging
from zoneinfo import ZoneInfo

import holidays
from holidays.countries.china import ChinaStaticHolidays

log = logging.getLogger(__name__)

# Years for which the State Council's schedule (with 调休 days) is in the package.
_OFFICIAL_YEARS = frozenset(ChinaStaticHolidays.special_public_holidays)
_FIRST_OFFICIAL_YEAR = min(_OFFICIAL_YEARS)
_LAST_OFFICIAL_YEAR = max(_OFFICIAL_YEARS)
_MAX_SCAN_DAYS = 3660  # a working-day search never walks more than ten years


def _parse_time(text):
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _parse_dates(values):
    return frozenset(dt.date.fromisoformat(str(v)) for v in values)


class BusinessCalendar:
    def __init__(self, timezone="Asia/Shanghai", office_open="09:00", office_close="18:00",
                 extra_holidays=(), extra_working_days=(), warning_working_days=1, **_ignored):
        self.tz = ZoneInfo(timezone)
        self.office_open = _parse_time(office_open)
        self.office_close = _parse_time(office_close)
        self.extra_holidays = _parse_dates(extra_holidays)
        self.extra_working_days = _parse_dates(extra_working_days)
        self.warning_working_days = int(warning_working_days)
        self._cn = holidays.China()
        self._warned_years = set()

    @classmethod
    def from_config(cls, calendar_config):
        return cls(**calendar_config)

    # -- days -----------------------------------------------------------------------------
    def year_status(self, year):
        """``official`` (package schedule), ``configured`` (overrides only) or ``weekends_only``."""
        if _FIRST_OFFICIAL_YEAR <= year <= _LAST_OFFICIAL_YEAR:
            return "official"
        if any(d.year == year for d in self.extra_holidays | self.extra_working_days):
            return "configured"
        return "weekends_only"

    @functools.lru_cache(maxsize=4096)
    def is_working_day(self, day):
        if day in self.extra_working_days:
            return True
        if day in self.extra_holidays:
            return False
        if self.year_status(day.year) == "official":
            return self._cn.is_working_day(day)
        self._warn_once(day.year)
        return day.weekday() < 5

    def _warn_once(self, year):
        if year not in self._warned_years and self.year_status(year) == "weekends_only":
            self._warned_years.add(year)
            log.warning("no holiday schedule for %s: counting weekends only; add the year's "
                        "holidays and adjusted working days under [calendar]", year)

    def next_working_day(self, day, step=1):
        """The first working day strictly after (``step=1``) or before (``step=-1``) ``day``."""
        for _ in range(_MAX_SCAN_DAYS):
            day += dt.timedelta(days=step)
            if self.is_working_day(day):
                return day
        raise ValueError(f"no working day within ten years of {day}")

    def nth_working_day(self, day, n):
        """The ``n``-th working day after ``day`` (``n=0``: ``day`` itself if working, else the next)."""
        if n == 0:
            return day if self.is_working_day(day) else self.next_working_day(day)
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, start, end):
        """Working days in the half-open date range (start, end]."""
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_working_day(day)
        return count

    # -- instants -------------------------------------------------------------------------
    def local(self, moment):
        return moment.astimezone(self.tz)

    def at(self, day, time):
        return dt.datetime.combine(day, time, self.tz)

    def add_working_days(self, moment, n):
        """Same local time of day, ``n`` working days later."""
        local = self.local(moment)
        return self.at(self.nth_working_day(local.date(), n), local.timetz().replace(tzinfo=None))

    def working_day_end(self, moment, n):
        """Office close of the ``n``-th working day after ``moment``'s date."""
        return self.at(self.nth_working_day(self.local(moment).date(), n), self.office_close)

    def last_working_day_start(self, due):
        """Office opening of the last working day up to ``due`` (the default reminder time)."""
        day = self.local(due).date()
        if not self.is_working_day(day):
            day = self.next_working_day(day, step=-1)
        return self.at(day, self.office_open)
