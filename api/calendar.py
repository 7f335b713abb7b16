"""The working-day calendar of a year, the schedule an admin enters, and moving due times after it.

``GET /calendar/{year}`` (any signed-in user): the year's status (``official``, ``entered``,
``estimated``, ``weekends_only``: engine.calendar), its weekdays off and its working weekend
days as the calendar counts them now, and the entered schedule in force. ``PUT`` (admin):
enter the year's published schedule (engine.calendar_schedules: validated, audited, every
process counts it from its next command). ``GET .../changes`` (admin): the open tasks whose
due times the newest schedule moves; ``POST .../changes/apply`` (admin): move them (all, or
``task_ids``) with their timers, audited, once (engine.calendar_changes). Saving a schedule
moves no due time by itself.
"""
import datetime as dt

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, String
from apiflask.validators import Length, OneOf

from api.auth import current_actor, require_roles, token_auth
from api.errors import abort
from api.runtime import engine
from engine import calendar_changes
from engine.calendar_schedules import FIRST_YEAR, LAST_YEAR

bp = APIBlueprint("calendar", __name__, url_prefix="/api/v1", tag="Calendar")


class ScheduleIn(Schema):
    holidays = List(String(validate=Length(max=40)), required=True)
    working_days = List(String(validate=Length(max=40)), required=True)


class EnteredOut(Schema):
    id = Integer(required=True)
    holidays = List(String(), required=True)
    working_days = List(String(), required=True)
    entered_at = String(required=True)
    entered_by = String(allow_none=True)
    applied_at = String(allow_none=True)
    applied_by = String(allow_none=True)


class NoteOut(Schema):
    field = String(required=True)
    code = String(required=True)
    message = String(required=True)
    date = String()


class CalendarOut(Schema):
    year = Integer(required=True)
    status = String(required=True, metadata={"description": "official | entered | estimated | weekends_only"})
    days_off = List(String(), required=True, metadata={"description": "weekdays that are not working days"})
    working_weekends = List(String(), required=True, metadata={"description": "Saturdays/Sundays worked (调休)"})
    entered = Nested(EnteredOut, allow_none=True)
    notes = List(Nested(NoteOut), metadata={"description": "PUT only: accepted oddities (holiday_on_weekend)"})


class ChangesQuery(Schema):
    baseline = String(load_default="previous", validate=OneOf(calendar_changes.BASELINES))


class MoveOut(Schema):
    task_id = String(required=True)
    instance_id = String(required=True)
    business_key = String(allow_none=True)
    task = String(required=True)
    title = String(allow_none=True)
    previous_due = String(required=True)
    due = String(required=True)


class ChangesOut(Schema):
    year = Integer(required=True)
    schedule_id = Integer(required=True)
    baseline = String(required=True)
    applied = Boolean(required=True)
    moves = List(Nested(MoveOut), required=True)


class ApplyIn(Schema):
    schedule_id = Integer(required=True, metadata={"description": "the schedule previewed"})
    baseline = String(load_default="previous", validate=OneOf(calendar_changes.BASELINES))
    task_ids = List(String(validate=Length(max=36)), load_default=None, allow_none=True,
                    metadata={"description": "the moves to apply (default: all previewed)"})


class SkippedOut(Schema):
    task_id = String(required=True)
    reason = String(required=True)


class ApplyOut(Schema):
    moved = List(Nested(MoveOut), required=True)
    skipped = List(Nested(SkippedOut), required=True)


def _year(year):
    if not FIRST_YEAR <= year <= LAST_YEAR:
        abort(404, "not_found", f"years {FIRST_YEAR}-{LAST_YEAR} only")
    return year


def year_days(calendar, year):
    """``(weekdays off, weekend days worked)`` of ``year`` as ``calendar`` counts them."""
    off, worked, day = [], [], dt.date(year, 1, 1)
    while day.year == year:
        working = calendar.is_working_day(day)
        if day.weekday() < 5 and not working:
            off.append(day)
        elif day.weekday() >= 5 and working:
            worked.append(day)
        day += dt.timedelta(days=1)
    return off, worked


def _moment(rt, value):
    return rt.calendar.local(value).isoformat() if value is not None else None


def calendar_out(rt, year, notes=None):
    off, worked = year_days(rt.calendar, year)
    rows = rt.calendar_schedules.history(year, limit=1)
    entered = None
    if rows:
        row = rows[0]
        entered = {"id": row.id, "holidays": row.holidays, "working_days": row.working_days,
                   "entered_at": _moment(rt, row.entered_at), "entered_by": row.entered_by,
                   "applied_at": _moment(rt, row.applied_at), "applied_by": row.applied_by}
    out = {"year": year, "status": rt.calendar.year_status(year), "days_off": [d.isoformat() for d in off],
           "working_weekends": [d.isoformat() for d in worked], "entered": entered}
    if notes is not None:
        out["notes"] = notes
    return out


def move_out(rt, move):
    return {"task_id": move.task_id, "instance_id": move.instance_id, "business_key": move.business_key,
            "task": move.key, "title": move.title, "previous_due": _moment(rt, move.old_due),
            "due": _moment(rt, move.new_due)}


@bp.get("/calendar/<int:year>")
@bp.auth_required(token_auth)
@bp.output(CalendarOut)
@bp.doc(summary="A year's working-day calendar: its status, days off, working weekends, entered schedule",
        responses=[404])
def read(year):
    return calendar_out(engine(), _year(year))


@bp.put("/calendar/<int:year>")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(ScheduleIn, arg_name="body")
@bp.output(CalendarOut)
@bp.doc(summary="Enter a year's published holiday schedule (admin); moves no due time by itself",
        description="Holidays: the days off (weekend days in a published period are accepted, noted "
                    "as holiday_on_weekend). Working days: the Saturdays/Sundays worked (调休). Refused "
                    "(400, nothing saved): a date outside the year (outside_year), not a date "
                    "(invalid_date), both lists (holiday_and_working), a weekday as working day "
                    "(working_day_not_weekend). It replaces the holidays package's days of that year; "
                    "[calendar] overrides still win.",
        responses=[400, 403, 404])
def enter(year, body):
    rt = engine()
    _row, notes = rt.calendar_schedules.save(_year(year), body["holidays"], body["working_days"],
                                             current_actor().username)
    rt.calendar.refresh(force=True)
    return calendar_out(rt, year, notes)


@bp.get("/calendar/<int:year>/changes")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(ChangesQuery, location="query", arg_name="query")
@bp.output(ChangesOut)
@bp.doc(summary="Preview: the open tasks whose due times the year's newest schedule moves (admin)",
        description="baseline=previous (default): against the year's previous schedule or the estimate; "
                    "baseline=weekends: against counting the year as weekends only (due times computed "
                    "before the statutory-holiday estimate). 404 no_schedule when none was entered.",
        responses=[400, 403, 404])
def changes(year, query):
    rt = engine()
    change = calendar_changes.preview(rt, _year(year), query["baseline"])
    return {"year": year, "schedule_id": change.schedule.id, "baseline": change.baseline,
            "applied": change.schedule.applied_at is not None, "moves": [move_out(rt, m) for m in change.moves]}


@bp.post("/calendar/<int:year>/changes/apply")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(ApplyIn, arg_name="body")
@bp.output(ApplyOut)
@bp.doc(summary="Apply: move the previewed due times and their timers, audited (admin, once per schedule)",
        description="409 schedule_changed when a newer schedule was entered since the preview, "
                    "calendar_applied when this one was already applied. A task closed or moved "
                    "meanwhile is skipped (task_closed, due_changed).",
        responses=[400, 403, 404, 409])
def apply_changes(year, body):
    rt = engine()
    moved, skipped = calendar_changes.apply(rt, _year(year), current_actor(), task_ids=body["task_ids"],
                                            baseline=body["baseline"], schedule_id=body["schedule_id"])
    return {"moved": [move_out(rt, m) for m in moved],
            "skipped": [{"task_id": m.task_id, "reason": reason} for m, reason in skipped]}
