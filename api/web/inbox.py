"""待办: the inbox, a task's page with its form, and the plan change request (计划调整).

A task page is visible to whoever may work the task, and to supervisors and admins (the
API's ``visible_task``). Completing goes through ``engine.tasks.complete`` — the same
checks, the same unit of work, the same refusals as the API — and a refused form is
shown again with each problem next to its field and every answer kept.
"""
from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from api.present import Presenter
from api.web import bp, schema_form
from api.web.session import (FORM_SHOWN_AGAIN, department_names, engine, error_page, login_required, user_names)
from engine import forms
from engine.errors import Conflict, FormInvalid, Forbidden, InvalidInput
from engine.models import HumanTask, Instance
from engine.tasks import may_work
from workflows.supervision import plan_changes, queries
from workflows.supervision.items import get_item
from workflows.supervision.models import Item

OVERSEERS = ("admin", "supervisor")
INBOX_LIMIT = 200

# The plan change form (the API's PlanChangeIn, as a JSON Schema so it renders like a task form).
PLAN_CHANGE_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["reason", "milestones"],
    "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 2000, "title": "调整理由",
                   "x-widget": "textarea"},
        "milestones": {"type": "array", "minItems": 1, "maxItems": 100, "title": "调整后的节点计划",
                       "items": {"type": "object", "additionalProperties": False,
                                 "required": ["date", "target"],
                                 "properties": {"date": {"type": "string", "format": "date", "title": "时间节点"},
                                                "target": {"type": "string", "minLength": 1, "title": "阶段目标"}}}},
    },
}


def items_by_id(ids):
    ids = [i for i in set(ids) if i]
    if not ids:
        return {}
    with engine().db.read() as db:
        return {item.id: item for item in db.scalars(select(Item).where(Item.id.in_(ids)))}


@bp.get("/inbox")
@login_required
def inbox():
    rt = engine()
    rows, total = rt.tasks.inbox(g.actor, limit=INBOX_LIMIT)
    presenter = Presenter(rt)
    tasks = [presenter.task(r) for r in rows]
    return render_template("inbox.html", tasks=tasks, total=total,
                           overdue=rt.tasks.count_overdue(g.actor, presenter.now),
                           items=items_by_id(t["item_id"] for t in tasks),
                           departments=department_names())


def _visible_task(task_id):
    task = engine().tasks.get(task_id)
    if not (may_work(g.actor, task) or g.actor.has_any(*OVERSEERS)):
        raise Forbidden(f"task {task_id} is not yours")
    return task


def _context(task, **extra):
    """Everything a task page shows besides the form: the item's notice, plan, history."""
    rt = engine()
    presenter = Presenter(rt)
    spec = rt.tasks.task_spec(task)
    context = {"task": presenter.task(task), "documentation": spec.documentation,
               "may_work": may_work(g.actor, task), "departments": department_names(),
               "users": user_names(), "item": None, "plan": None, "plans": [], "reports": [],
               "timeline": [], "change_request": None, "task_titles": {}}
    with rt.db.read() as db:
        instance = db.get(Instance, task.instance_id)
        if instance is not None and instance.definition_key == plan_changes.PROCESS_KEY:
            context["change_request"] = instance.variables or {}
        item = db.get(Item, task.business_key) if task.business_key else None
        if item is not None and (may_work(g.actor, task) or queries.may_see(db, g.actor, item)):
            plans = queries.plans(db, item.id)
            adopted = [p for p in plans if p.state in ("approved", "filed", "changed")]
            context.update(item=item, plan=(adopted or plans)[-1] if plans else None, plans=plans,
                           reports=queries.reports(db, item.id), timeline=queries.timeline(db, item.id),
                           task_titles=task_titles_of(db, item.id))
    context.update(extra)
    return context


def task_titles_of(db, business_key):
    rows = db.execute(select(HumanTask.id, HumanTask.key, HumanTask.title)
                      .where(HumanTask.business_key == business_key)).all()
    titles = {row.key: row.title for row in rows if row.title}
    titles.update({row.id: row.title for row in rows if row.title})
    return titles


def _render_task(task, schema, values, errors, status=200):
    form_fields = schema_form.fields(schema or {}, values)
    return render_template("task.html", schema=schema, form_fields=form_fields, values=values,
                           errors=errors, **_context(task)), status


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id):
    rt = engine()
    task = _visible_task(task_id)
    schema = forms.form_schema(rt.tasks.task_spec(task))
    if request.method == "GET":
        return _render_task(task, schema, schema_form.flatten(schema or {}, task.data or {}, rt.calendar.tz), {})
    if task.state != "open":
        flash("该任务已办理。")
        return redirect(url_for("web.task", task_id=task.id))
    data, values, errors = schema_form.submit(schema or {}, request.form, rt.calendar.tz)
    action = request.form.get("_action", "")
    if action:
        return _render_task(task, schema, schema_form.row_action(schema or {}, values, action), {})
    if errors:
        return _render_task(task, schema, values, errors, FORM_SHOWN_AGAIN)
    try:
        _row, opened = rt.tasks.complete(task.id, data, g.actor)
    except FormInvalid as err:  # the engine's own check found more: show its words
        engine_errors = {}
        for problem in err.details or []:
            engine_errors.setdefault(problem["field"].replace("/", "."), []).append(problem["message"])
        return _render_task(task, schema, values, engine_errors, FORM_SHOWN_AGAIN)
    except Conflict as err:
        return error_page(409, "该任务已被他人办理或状态已变化，请返回待办刷新。", err.message)
    flash(f"已办理：{task.title or task.key}。" + (
        "下一步：" + "、".join(t.title or t.key for t in opened) if opened else ""))
    return redirect(url_for("web.inbox"))


@bp.route("/items/<item_id>/plan-change", methods=["GET", "POST"])
@login_required
def plan_change(item_id):
    """计划调整: lead-department staff ask; it takes effect when the leader approves."""
    rt = engine()
    item = get_item(rt, item_id)
    with rt.db.read() as db:
        if not queries.may_see(db, g.actor, item):
            raise Forbidden(f"item {item.code} is not in your scope")
        plans = queries.plans(db, item.id)
    current = plans[-1] if plans else None
    errors, status = {}, 200
    if request.method == "GET":
        values = schema_form.flatten(PLAN_CHANGE_SCHEMA, {"milestones": current.milestones if current else []})
    else:
        data, values, errors = schema_form.submit(PLAN_CHANGE_SCHEMA, request.form, rt.calendar.tz)
        action = request.form.get("_action", "")
        if action:
            values, errors = schema_form.row_action(PLAN_CHANGE_SCHEMA, values, action), {}
        elif not errors:
            try:
                plan_changes.request_change(rt, item, data["reason"], data["milestones"], g.actor)
            except (Conflict, Forbidden, InvalidInput) as err:
                errors = {"": [_plan_change_refusal(err)]}
            else:
                flash("计划调整申请已提交，经分管领导审批后生效。")
                return redirect(url_for("web.item", item_id=item.id))
        status = FORM_SHOWN_AGAIN if errors else 200
    return render_template("plan_change.html", item=item, plan=current, errors=errors, values=values,
                           form_fields=schema_form.fields(PLAN_CHANGE_SCHEMA, values),
                           departments=department_names(), users=user_names()), status


def _plan_change_refusal(err):
    if isinstance(err, Forbidden):
        return "只有主办部门的承办人员可以申请计划调整。"
    if "no plan" in err.message:
        return "该事项尚无可调整的工作计划，请先提交工作计划。"
    if isinstance(err, Conflict):
        return "该事项已办结或已撤销，不能调整计划。"
    return err.message
