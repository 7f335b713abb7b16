"""An item's two requests of its lead department: 计划调整 (plan change) and 延期申请 (extension).

Each is the API's request (``POST /api/v1/items/{id}/plan-change`` and ``/extension``): the
form is derived from the API's schema (``api.schemas.PlanChangeIn`` / ``ExtensionIn``, through
``api.web.request_forms``), the item must be visible to the caller
(``workflows.access.visible_item``), and the domain decides
(``workflows.supervision.plan_changes.request_change``,
``workflows.supervision.extensions.request_extension``), refusing with the same errors. A
request takes effect when the leader approves it: an ordinary task of the leader's inbox.
"""
import datetime as dt

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from api.runtime import engine
from api.schemas import ExtensionIn, PlanChangeIn
from api.web import bp, schema_form
from api.web.labels import error_text, field_errors
from api.web.lookups import department_names, user_names
from api.web.request_forms import form_schema
from api.web.session import login_required
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.models import HumanTask
from workflows import access
from workflows.supervision import extensions, plan_changes, queries

PLAN_CHANGE_WORDS = {
    "reason": {"title": "调整理由", "x-widget": "textarea"},
    "milestones": {"title": "调整后的节点计划",
                   "items": {"properties": {"date": {"title": "时间节点"}, "target": {"title": "阶段目标"}}}},
}
EXTENSION_WORDS = {
    "task_id": {"title": "申请延期的环节"},
    "new_due": {"title": "申请延至", "description": "须晚于该环节当前的办理期限；经分管领导审批同意后生效。"},
    "reason": {"title": "延期理由", "x-widget": "textarea"},
    "progress": {"title": "目前进度（%）", "description": "截至目前的完成进度，0–100。"},
}
PLAN_CHANGE_SCHEMA = form_schema(PlanChangeIn, PLAN_CHANGE_WORDS)


def _submitted(item, schema, send, refusal):
    """A POSTed request form: ``(values, errors, None)`` to show it again, or ``(.., .., response)``
    when ``send(data)`` accepted it. ``refusal(err, data)`` words a domain refusal as errors."""
    rt = engine()
    data, values, errors = schema_form.submit(schema, request.form, rt.calendar.tz)
    action = request.form.get("_action", "")
    if action:  # a row added or removed: show the form again, nothing sent
        return schema_form.row_action(schema, values, action), {}, None
    if errors:
        return values, errors, None
    try:
        send(data)
    except (Conflict, Forbidden, InvalidInput) as err:
        return values, refusal(err, data), None
    return values, {}, redirect(url_for("web.item", item_id=item.id))


# -- 计划调整 ---------------------------------------------------------------------------------------
@bp.route("/items/<item_id>/plan-change", methods=["GET", "POST"])
@login_required
def plan_change(item_id):
    """计划调整: lead-department staff ask; it takes effect when the leader approves."""
    rt = engine()
    item = access.visible_item(rt, g.actor, item_id)
    with rt.db.read() as db:
        plans = queries.plans(db, item.id)
    current = plans[-1] if plans else None
    errors = {}
    if request.method == "GET":
        values = schema_form.flatten(PLAN_CHANGE_SCHEMA, {"milestones": current.milestones if current else []})
    else:
        def send(data):
            plan_changes.request_change(rt, item, data["reason"], data["milestones"], g.actor)
            flash("计划调整申请已提交，经分管领导审批后生效。")
        values, errors, done = _submitted(item, PLAN_CHANGE_SCHEMA, send,
                                          lambda err, _data: {"": [error_text(err)]})
        if done:
            return done
    return render_template("plan_change.html", item=item, plan=current, errors=errors, values=values,
                           form_fields=schema_form.fields(PLAN_CHANGE_SCHEMA, values),
                           departments=department_names(), users=user_names())


# -- 延期申请 ---------------------------------------------------------------------------------------
def extension_schema(steps):
    """The extension request form (the API's ExtensionIn), choosing among ``steps``."""
    words = {**EXTENSION_WORDS, "task_id": {**EXTENSION_WORDS["task_id"], "enum": [s["id"] for s in steps],
                                            "enumNames": [s["label"] for s in steps]}}
    return form_schema(ExtensionIn, words)


def _extension_steps(item):
    """The lead department's open steps of ``item`` that have a due time, soonest first."""
    rt = engine()
    with rt.db.read() as db:
        rows = db.scalars(select(HumanTask).where(
            HumanTask.business_key == item.id, HumanTask.state == "open", HumanTask.due_at.is_not(None),
            HumanTask.candidate_department == item.department).order_by(HumanTask.due_at))
        now = rt.clock.now()
        return [{"id": t.id, "title": t.title or t.key, "due_at": t.due_at, "overdue": t.due_at <= now,
                 "label": f"{t.title or t.key}（办理期限 {rt.calendar.local(t.due_at):%Y-%m-%d %H:%M}"
                          + ("，已逾期）" if t.due_at <= now else "）")} for t in rows]


@bp.route("/items/<item_id>/extension", methods=["GET", "POST"])
@login_required
def extension_request(item_id):
    """延期申请: lead-department staff, before the step's due time; effective when the leader approves."""
    rt = engine()
    item = access.visible_item(rt, g.actor, item_id)
    steps = _extension_steps(item)
    schema = extension_schema(steps)
    errors = {}
    if request.method == "GET":
        chosen = request.args.get("task_id")
        values = {"task_id": chosen if any(s["id"] == chosen for s in steps) else (steps[0]["id"] if steps else "")}
    else:
        def send(data):
            extensions.request_extension(rt, item, data["task_id"], data["reason"],
                                         dt.datetime.fromisoformat(data["new_due"]), data["progress"], g.actor)
            flash("延期申请已提交，经分管领导审批同意后生效；审批前仍按原期限办理。")
        values, errors, done = _submitted(item, schema, send,
                                          lambda err, data: _extension_refusal(err, steps, data["task_id"]))
        if done:
            return done
    return render_template("extension_request.html", item=item, steps=steps, errors=errors, values=values,
                           form_fields=schema_form.fields(schema, values), departments=department_names(),
                           users=user_names(),
                           may_request=item.status == "open" and access.may_request_extension(g.actor, item))


def _extension_refusal(err, steps, task_id):
    """The domain's refusal in the page's words: ``{field: [message]}`` (``""``: the whole form).
    A refusal about the chosen step (fell due, already asked, ...) stands next to the step."""
    step = next((s for s in steps if s["id"] == task_id), None)
    facts = {"title": step["title"], "due": f"{engine().calendar.local(step['due_at']):%Y-%m-%d %H:%M}"} if step else {}
    about_step = isinstance(err, Conflict) and err.reason != "item_closed"
    return field_errors(err, default="task_id" if about_step else "", **facts)
