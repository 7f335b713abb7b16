"""Deadline rules of the supervision loop, as functions the BPMN diagram calls.

* ``working_day_end(now(), 2)`` (built into the engine) — the work plan's due time.
* ``report_due(start, previous)`` — the progress report's due time: 12:00 on the week's
  reporting day (Friday, or when Friday is not a working day the last working day before it
  in the same ISO week); when that moment is less than one working day after ``start`` (or
  the week has no working day left) the next week's reporting day. Counting starts from the
  later of ``start`` and the previous report's due time, so a department that reports early
  is next asked for the following week, not the same one again.
"""
import datetime as dt

REPORT_TIME = dt.time(12, 0)
_MAX_WEEKS = 60


def reporting_day(calendar, monday):
    """The reporting day of the week starting ``monday``, or None when the week has no working day up to Friday."""
    for offset in (4, 3, 2, 1, 0):
        day = monday + dt.timedelta(days=offset)
        if calendar.is_working_day(day):
            return day
    return None


def report_due(calendar, start, previous=None):
    if previous is not None and previous > start:
        start = previous
    earliest = calendar.add_working_days(start, 1)
    local = calendar.local(start).date()
    monday = local - dt.timedelta(days=local.weekday())
    for week in range(_MAX_WEEKS):
        day = reporting_day(calendar, monday + dt.timedelta(weeks=week))
        if day is not None:
            due = calendar.at(day, REPORT_TIME)
            if due >= earliest:
                return due
    raise ValueError(f"no reporting day within {_MAX_WEEKS} weeks of {start.isoformat()}")
