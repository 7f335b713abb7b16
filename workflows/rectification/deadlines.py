"""Deadline rules of the rectification process, as functions the BPMN diagram calls.

* ``working_day_end(now(), 2)`` (built into the engine) — the rectification plan's due time:
  office close of the 2nd working day after hand-over.
* ``rectification_due(day)`` — the rectification report's due time: office close of ``day``
  (the plan's deadline, or the new date a failed verification set). A deadline that falls
  on a weekend or holiday is met on the next working day (the usual rule for time limits).
"""
import datetime as dt


def report_due(calendar, day):
    return calendar.at(calendar.nth_working_day(day, 0), calendar.office_close)


def functions(engine):
    calendar = engine.calendar

    def rectification_due(day):
        return calendar.local(report_due(calendar, dt.date.fromisoformat(str(day)[:10]))).isoformat()

    return {"rectification_due": rectification_due}
