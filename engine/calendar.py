"""The business calendar (DESIGN invariant 7): which days are working days, in one timezone.

Working days = weekdays − holidays + adjusted working weekend days (调休). Where a year's
days come from, lowest precedence first:

1. the ``holidays`` package (country CN). For a year it has the State Council's schedule of
   (``official``), that schedule with its 调休 days. For any other year from 1950 to 2100
   (``estimated``), the statutory holidays the package computes from the law, with no adjusted
   working weekends: New Year's Day; the Spring Festival from its eve to the 3rd day (4 days,
   the 2025 rule); Qingming; Labour Day (2 days, the 2025 rule); Dragon Boat; Mid-Autumn;
   National Day (3 days); a statutory day on a weekend gives a weekday off in lieu (补假, as
   the law says), e.g. 2027-02-09/10 for the Spring Festival weekend. Outside that range the
   package knows nothing (``weekends_only``). An estimated or weekends-only year logs a
   warning once per year: a date is never a crash.
2. the schedule an admin entered for the year (``entered``; table ``calendar_schedule``, see
   engine.calendar_schedules): it *replaces* the package's days of that year. Its holidays
   are the days off, its working days the 调休 weekend days; every other weekday works.
3. the ``[calendar]`` overrides (``extra_holidays``, ``extra_working_days``): local
   exceptions, above everything.

Entered schedules are shared by every process through the database. Each process caches
them with the table's ``max(id)`` as version; :meth:`BusinessCalendar.refresh` (one indexed
read) reloads when it moved. The engine refreshes at the start of every unit of work and
every periodic tick, and the app before every request, so a schedule saved by one process counts in every other one from
its next command or page on. Trade-off: a read per command instead of a pub/sub channel.

All functions take and return timezone-aware datetimes; due times are the office close of
a working day (``office_close``, 18:00 by default).
"""
import dataclasses
import time
import datetime as dt
import logging
from zoneinfo import ZoneInfo

import holidays
from holidays.countries.china import ChinaStaticHolidays
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# Years for which the State Council's schedule (with 调休 days) is in the package.
_OFFICIAL_YEARS = frozenset(ChinaStaticHolidays.special_public_holidays)
# Years the package computes the statutory holidays for.
FIRST_KNOWN_YEAR, LAST_KNOWN_YEAR = holidays.China.start_year, holidays.China.end_year
_MAX_SCAN_DAYS = 3660  # a working-day search never walks more than ten years


def _parse_time(text):
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _parse_dates(values):
    return frozenset(dt.date.fromisoformat(str(v)) for v in values)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A year's days as published: the days off and the 调休 weekend days worked."""

    holidays: frozenset
    working_days: frozenset

    @classmethod
    def of(cls, holidays=(), working_days=()):
        return cls(_parse_dates(holidays), _parse_dates(working_days))


@dataclasses.dataclass(frozen=True)
class _Entered:
    """The entered schedules at one version, and the days answered from them (a cache)."""

    version: object
    schedules: dict                 # {year: Schedule}
    days: dict = dataclasses.field(default_factory=dict)


class BusinessCalendar:
    def __init__(self, timezone="Asia/Shanghai", office_open="09:00", office_close="18:00",
                 extra_holidays=(), extra_working_days=(), warning_working_days=1, store=None,
                 refresh_seconds=1.0, **_ignored):
        self.tz = ZoneInfo(timezone)
        self.office_open = _parse_time(office_open)
        self.office_close = _parse_time(office_close)
        self.extra_holidays = _parse_dates(extra_holidays)
        self.extra_working_days = _parse_dates(extra_working_days)
        self.warning_working_days = int(warning_working_days)
        self.store = store  # engine.calendar_schedules.CalendarSchedules, or None (no database)
        self._cn = holidays.China()
        self._warned_years = set()
        self._entered = _Entered(None, {})  # replaced whole, never mutated: threads share it
        self._refresh_failing = False
        self.refresh_seconds = float(refresh_seconds)
        self._checked_at = None  # wall (monotonic) time of the last version check
        self._saved_seen = 0  # the store's own saves at that check: one since means check now

    @classmethod
    def from_config(cls, calendar_config, store=None):
        return cls(**calendar_config, store=store)

    def _settings(self):
        return dict(timezone=self.tz.key, office_open=self.office_open.strftime("%H:%M"),
                    office_close=self.office_close.strftime("%H:%M"),
                    extra_holidays=[d.isoformat() for d in self.extra_holidays],
                    extra_working_days=[d.isoformat() for d in self.extra_working_days],
                    warning_working_days=self.warning_working_days, refresh_seconds=self.refresh_seconds)

    # -- entered schedules ------------------------------------------------------------------
    def refresh(self, force=False):
        """Reload the entered schedules if another process (or this one) changed them.

        Called before every command, tick and request, the check (one read) runs at most every
        ``[calendar] refresh_seconds`` of wall time (default 1 s), and at once after a save in
        this process or with ``force``: it was 6 % of a command. A schedule another process enters therefore counts
        here within that second, as if it had been entered a second later. A database that
        does not answer keeps the cached schedules (logged once per outage): the command that
        follows meets the outage itself and answers for it.
        """
        if self.store is None:
            return
        now, saved = time.monotonic(), self.store.saved
        if (not force and saved == self._saved_seen and self._checked_at is not None
                and now - self._checked_at < self.refresh_seconds):
            return
        try:
            version = self.store.version()
            if version != self._entered.version:
                self._entered = _Entered(version, self.store.current())
        except SQLAlchemyError as err:
            if not self._refresh_failing:
                log.warning("calendar: could not check the entered schedules: %s", err)
            self._refresh_failing = True
        else:
            self._refresh_failing = False
            self._checked_at, self._saved_seen = now, saved

    def entered(self, year):
        """The entered :class:`Schedule` of ``year`` in force, or None."""
        return self._entered.schedules.get(year)

    def with_schedule(self, year, schedule):
        """A detached copy of this calendar with ``year``'s entered schedule replaced by
        ``schedule`` (None: no entered schedule). For comparing two versions of a year."""
        copy = BusinessCalendar(**self._settings())
        schedules = dict(self._entered.schedules)
        if schedule is None:
            schedules.pop(year, None)
        else:
            schedules[year] = schedule
        copy._entered = _Entered(("detached", id(copy)), schedules)
        copy._warned_years = self._warned_years  # one warning per process and year
        return copy

    # -- days -----------------------------------------------------------------------------
    def year_status(self, year):
        """``entered`` (an admin's schedule), ``official`` (the package's State Council
        schedule), ``estimated`` (statutory holidays only) or ``weekends_only`` (no data)."""
        if year in self._entered.schedules:
            return "entered"
        return self.package_status(year)

    @staticmethod
    def package_status(year):
        """What the ``holidays`` package alone knows of ``year``."""
        if year in _OFFICIAL_YEARS:
            return "official"
        if FIRST_KNOWN_YEAR <= year <= LAST_KNOWN_YEAR:
            return "estimated"
        return "weekends_only"

    def package_holidays(self, year):
        """``{date: English name}`` of the package for ``year`` (statutory days, and the official
        schedule's days off where it has one); empty outside the years it knows."""
        if self.package_status(year) == "weekends_only":
            return {}
        return dict(holidays.China(years=year))

    def is_working_day(self, day):
        entered = self._entered
        known = entered.days.get(day)
        if known is None:
            known = entered.days[day] = self._working(day, entered.schedules)
        return known

    def _working(self, day, schedules):
        if day in self.extra_working_days:
            return True
        if day in self.extra_holidays:
            return False
        schedule = schedules.get(day.year)
        if schedule is not None:
            return day in schedule.working_days or (day.weekday() < 5 and day not in schedule.holidays)
        status = self.package_status(day.year)
        if status != "official":
            self._warn_once(day.year, status)
        if status == "weekends_only":
            return day.weekday() < 5
        return self._cn.is_working_day(day)

    def _warn_once(self, year, status):
        if year in self._warned_years:
            return
        self._warned_years.add(year)
        if status == "estimated":
            log.warning("no official holiday schedule for %s: counting the statutory holidays only "
                        "(no 调休 working weekends); enter the published schedule on the admin "
                        "calendar page", year)
        else:
            log.warning("no holiday data for %s: counting weekends only; enter the year's schedule "
                        "on the admin calendar page", year)

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
