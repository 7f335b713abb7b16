"""回头看: schedule a look-back check of a closed problem or item (``workflows.lookback``).

The check itself (``lookback_check``) is worked through the task endpoints like any step.
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, Raw, String

from api.auth import current_actor, require_roles, token_auth
from api.runtime import engine
from workflows import access
from workflows.lookback import lookbacks

bp = APIBlueprint("lookback", __name__, url_prefix="/api/v1", tag="Lookback")


class LookbackIn(Schema):
    """Either ``on`` (a date after today, ``YYYY-MM-DD``) or ``months`` (1–36, counted from the
    record's closure); checked by ``workflows.lookback.lookbacks.due_day``."""
    on = Raw(metadata={"type": "string", "format": "date", "description": "the day the check opens"})
    months = Raw(metadata={"type": "integer", "minimum": 1, "maximum": lookbacks.MAX_MONTHS,
                           "description": "months after the closure"})


class LookbackOut(Schema):
    instance_id = String(required=True)
    record_id = String(required=True)
    due_on = String(required=True)
    status = String(required=True)


def _schedule(kind, record_id, body):
    rt, actor = engine(), current_actor()
    visible = access.visible_problem if kind == "problem" else access.visible_item
    visible(rt, actor, record_id)
    instance, day = lookbacks.schedule(rt, kind, record_id, body, actor)
    return {"instance_id": instance.id, "record_id": record_id, "due_on": day.isoformat(), "status": "pending"}


RESPONSES = {400: "bad date (date_in_past, invalid_date, out_of_range, required, unknown)",
             403: "not the secretariat, or outside its subtree", 404: "no such record",
             409: "the record is not closed (not_closed), or a look-back is pending (lookback_pending)"}


@bp.post("/problems/<problem_id>/lookback")
@bp.auth_required(token_auth)
@require_roles(*access.LOOKBACK_SCHEDULERS)
@bp.input(LookbackIn, arg_name="body")
@bp.output(LookbackOut, status_code=201)
@bp.doc(summary="Schedule a 回头看 of a closed problem: on its date the secretariat's check opens; "
                "rebounded reopens the problem with a new deadline", responses=RESPONSES)
def problem_lookback(problem_id, body):
    return _schedule("problem", problem_id, body)


@bp.post("/items/<item_id>/lookback")
@bp.auth_required(token_auth)
@require_roles(*access.LOOKBACK_SCHEDULERS)
@bp.input(LookbackIn, arg_name="body")
@bp.output(LookbackOut, status_code=201)
@bp.doc(summary="Schedule a 回头看 of a closed item: on its date the secretariat's check opens; "
                "rebounded registers a problem for the item's lead department", responses=RESPONSES)
def item_lookback(item_id, body):
    return _schedule("item", item_id, body)
