"""The holiday schedules admins enter (table ``calendar_schedule``): validated, stored, audited.

A year's schedule is what the State Council publishes each November or December: the days
off (holidays) and the weekend days worked instead (调休). Saving appends a row; the newest
row of a year is in force and replaces the ``holidays`` package's days of that year
(engine.calendar). Rows are never updated except to record that the change was applied to
the open tasks (engine.calendar_changes).

Validation (all problems reported at once, nothing saved on any):
- ``year``: 1900–2200 (``invalid_year``);
- every date a valid ISO date (``invalid_date``) inside the year (``outside_year``);
- no date both a holiday and a working day (``holiday_and_working``);
- a 调休 working day is a Saturday or Sunday (``working_day_not_weekend``): a weekday works anyway.
A holiday on a weekend is kept, and reported as a note (``holiday_on_weekend``), not refused:
the published notices give periods (“2月5日至12日放假调休”) that include the weekend, and a
weekend day off changes nothing.
"""
import datetime as dt

from sqlalchemy import func, select, update

from engine.calendar import Schedule
from engine.errors import InvalidInput, problem
from engine.models import CalendarSchedule

FIRST_YEAR, LAST_YEAR = 1900, 2200
MAX_DATES = 400  # per list: a year has at most 366 days; more is not a schedule


class CalendarSchedules:
    def __init__(self, db, clock, audit):
        self.db = db
        self.clock = clock
        self.audit = audit
        self.saved = 0  # schedules this process saved: its calendar checks at once after one

    # -- reading ----------------------------------------------------------------------------
    def version(self):
        """The newest row's id (None: none entered): the calendar's cache key."""
        with self.db.read() as session:
            return session.scalar(select(func.max(CalendarSchedule.id)))

    def current(self):
        """``{year: Schedule}``: the schedule in force of every year that has one."""
        newest = select(func.max(CalendarSchedule.id)).group_by(CalendarSchedule.year)
        with self.db.read() as session:
            rows = session.scalars(select(CalendarSchedule).where(CalendarSchedule.id.in_(newest)))
            return {row.year: Schedule.of(row.holidays, row.working_days) for row in rows}

    def history(self, year, limit=2):
        """The newest ``limit`` rows of ``year``, newest first."""
        with self.db.read() as session:
            return list(session.scalars(select(CalendarSchedule).where(CalendarSchedule.year == year)
                                        .order_by(CalendarSchedule.id.desc()).limit(limit)))

    # -- writing ----------------------------------------------------------------------------
    def save(self, year, holidays, working_days, actor):
        """Validate and store ``year``'s schedule; returns ``(row, notes)``.

        ``actor``: the username entering it. ``holidays``/``working_days``: ISO date strings (or dates). ``notes``: problems that did
        not refuse it (``holiday_on_weekend``). Raises InvalidInput with every problem found;
        nothing is saved then. Saving the schedule already in force changes nothing (the row
        in force is returned).
        """
        schedule, notes = validate(year, holidays, working_days)
        in_force = self.history(year, limit=1)
        if in_force and Schedule.of(in_force[0].holidays, in_force[0].working_days) == schedule:
            return in_force[0], notes
        previous = in_force[0] if in_force else None
        with self.db.write() as session:
            row = CalendarSchedule(year=year, holidays=sorted(d.isoformat() for d in schedule.holidays),
                                   working_days=sorted(d.isoformat() for d in schedule.working_days),
                                   entered_at=self.clock.now(), entered_by=actor)
            session.add(row)
            session.flush()
            self.audit.append(session, "calendar_schedule_entered", actor=actor, data={
                "year": year, "schedule_id": row.id, "holidays": row.holidays,
                "working_days": row.working_days, "previous_schedule_id": previous.id if previous else None})
        self.saved += 1
        return row, notes

    def mark_applied(self, session, row_id, actor):
        """Record (in the caller's transaction) that the change ``row_id`` was applied; False
        when it already was (someone else applied it first)."""
        result = session.execute(update(CalendarSchedule).where(
            CalendarSchedule.id == row_id, CalendarSchedule.applied_at.is_(None))
            .values(applied_at=self.clock.now(), applied_by=actor))
        return result.rowcount == 1


def validate(year, holidays, working_days):
    """``(Schedule, notes)`` or InvalidInput with every problem (see the module's rules)."""
    problems, notes = [], []
    if not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"year must be {FIRST_YEAR}-{LAST_YEAR}", details=[problem(
            "year", "invalid_year", f"year must be {FIRST_YEAR}-{LAST_YEAR}", first=FIRST_YEAR, last=LAST_YEAR)])
    days = {}
    for field, values in (("holidays", holidays), ("working_days", working_days)):
        if not isinstance(values, (list, tuple, set, frozenset)) or len(values) > MAX_DATES:
            problems.append(problem(field, "too_many", f"{field}: a list of at most {MAX_DATES} dates",
                                    limit=MAX_DATES))
            days[field] = set()
            continue
        days[field] = set()
        for value in values:
            day = _date(value)
            if day is None:
                problems.append(problem(field, "invalid_date", f"{value!r} is not a date (YYYY-MM-DD)",
                                        date=str(value)[:40]))
            elif day.year != year:
                problems.append(problem(field, "outside_year", f"{day} is not in {year}",
                                        date=day.isoformat(), year=year))
            else:
                days[field].add(day)
    for day in sorted(days["holidays"] & days["working_days"]):
        problems.append(problem("working_days", "holiday_and_working",
                                f"{day} is both a holiday and a working day", date=day.isoformat()))
    for day in sorted(days["working_days"]):
        if day.weekday() < 5:
            problems.append(problem("working_days", "working_day_not_weekend",
                                    f"{day} is a weekday: only a Saturday or Sunday can be an adjusted "
                                    "working day", date=day.isoformat()))
    if problems:
        raise InvalidInput(f"the {year} schedule is invalid", details=problems)
    for day in sorted(days["holidays"]):
        if day.weekday() >= 5:
            notes.append(problem("holidays", "holiday_on_weekend", f"{day} is a weekend day anyway",
                                 date=day.isoformat()))
    return Schedule(frozenset(days["holidays"]), frozenset(days["working_days"])), notes


def _date(value):
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None
