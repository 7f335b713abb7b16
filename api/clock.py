"""The clock: read it; in simulated mode, advance it (firing every timer due by then)."""
import datetime as dt

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, Integer, String
from apiflask.validators import Range

from api.auth import require_roles, token_auth
from api.errors import abort, problem
from api.runtime import engine
from engine.simulation import MAX_ADVANCE

bp = APIBlueprint("clock", __name__, url_prefix="/api/v1", tag="Clock")


class ClockOut(Schema):
    now = String(required=True)
    mode = String(required=True)


class AdvanceIn(Schema):
    to = DateTime()
    seconds = Integer(validate=Range(0, int(MAX_ADVANCE.total_seconds())))


def _simulated():
    rt = engine()
    if rt.clock.mode != "simulated":
        abort(404, "not_found", "the clock is only exposed in simulated mode")
    return rt


def _out(rt):
    return {"now": rt.calendar.local(rt.clock.now()).isoformat(), "mode": rt.clock.mode}


@bp.get("/clock")
@bp.auth_required(token_auth)
@bp.output(ClockOut)
@bp.doc(summary="The simulated clock (404 in system mode)", responses=[404])
def read():
    return _out(_simulated())


@bp.post("/clock/advance")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(AdvanceIn, arg_name="body")
@bp.output(ClockOut)
@bp.doc(summary="Advance the simulated clock; every timer due by then fires, in due order",
        responses=[400, 403, 404])
def advance(body):
    rt = _simulated()
    if ("to" in body) == ("seconds" in body):
        abort(400, "invalid_input", "give exactly one of 'to' and 'seconds'",
              [problem("to", "one_of", "exactly one of to / seconds")])
    target = body.get("to")
    if target is not None and target.tzinfo is None:
        abort(400, "invalid_input", "'to' needs a UTC offset", [problem("to", "no_offset", "no offset")])
    now = rt.clock.now()
    target = target or now + dt.timedelta(seconds=body["seconds"])
    if target < now:
        abort(400, "invalid_input", f"the clock cannot go back from {now.isoformat()}",
              [problem("to", "clock_backwards", "before the current time")])
    if target - now > MAX_ADVANCE:
        abort(400, "invalid_input", f"the clock moves at most {MAX_ADVANCE.days} days at a time",
              [problem("to", "too_far", f"more than {MAX_ADVANCE.days} days ahead")])
    rt.advance_clock(to=target)
    return _out(rt)
