"""回头看 from a closed item's or problem's page: the secretariat picks a date or a number of
months (``workflows.lookback.lookbacks.schedule``, the same call as ``POST
/api/v1/problems/{id}/lookback``). Done or refused, the form comes back to the record's page
with a message (refused: the reason in Chinese, nothing scheduled)."""
from flask import flash, g, redirect, request, url_for

from api.runtime import engine
from api.web import bp
from api.web.labels import error_text
from api.web.session import roles_required
from engine.errors import Conflict, InvalidInput
from workflows import access
from workflows.lookback import lookbacks


def lookback_context(session, record):
    """What the record page's 回头看 card shows: its look-backs, and whether the form is offered."""
    rows = lookbacks.of_record(session, record.id)
    offered = (record.status == "closed" and (g.actor.is_admin or g.actor.has_any(*access.LOOKBACK_SCHEDULERS))
               and not any(row.status == "pending" for row in rows))
    return {"lookbacks": rows, "may_schedule": offered}


def _form():
    """The form's fields as the API's body: ``on`` when a date was given, else ``months``."""
    if request.form.get("on"):
        return {"on": request.form["on"]}
    months = request.form.get("months", "")
    return {"months": int(months) if months.isdigit() else months or None}


def _schedule(kind, record_id, page):
    rt = engine()
    visible = access.visible_problem if kind == "problem" else access.visible_item
    record = visible(rt, g.actor, record_id)
    try:
        _instance, day = lookbacks.schedule(rt, kind, record.id, _form(), g.actor)
    except (InvalidInput, Conflict) as err:
        flash(f"未安排回头看：{error_text(err)}。")
    else:
        flash(f"已安排回头看：{day.year}年{day.month}月{day.day}日上班时开启检查。")
    return redirect(url_for(page, **{f"{kind}_id": record.id}))


@bp.post("/problems/<problem_id>/lookback")
@roles_required(*access.LOOKBACK_SCHEDULERS)
def problem_lookback(problem_id):
    return _schedule("problem", problem_id, "web.problem")


@bp.post("/items/<item_id>/lookback")
@roles_required(*access.LOOKBACK_SCHEDULERS)
def item_lookback(item_id):
    return _schedule("item", item_id, "web.item")
