"""待办: the inbox, a task's page with its form, claiming / giving back / assigning it and its
comments, the plan change request (计划调整) and the extension request (延期申请).

A task page is visible to whoever may see it in the API (``api.tasks.may_see_task``: whoever
may work it, supervisors and admins, whoever may see its item or problem). Completing goes
through ``engine.tasks.complete`` — the same checks, the same unit of work, the same refusals
as the API — and a refused form is shown again with each problem next to its field and
every answer kept. Claim, unclaim and assign are ``engine.tasks``' commands with the API's
rule for overriding (``api.tasks.may_override``: supervisors, admins, the item's leader);
comments are the API's (``api.tasks.add_task_comment``). Extension requests go through
``workflows.supervision.extensions.request_extension``; the leader's ``approve_extension``
is then an ordinary task of their inbox.
"""
import datetime as dt

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from api.models import User
from api.present import Presenter
from api.schemas import MAX_COMMENT
from api.tasks import add_task_comment, is_active_user, may_override, may_see_task, task_comments
from api.web import bp, schema_form
from api.web.session import (FORM_SHOWN_AGAIN, department_names, engine, error_page, login_required, user_names)
from engine import forms
from engine.errors import Conflict, FormInvalid, Forbidden, InvalidInput
from engine.models import HumanTask, Instance
from engine.tasks import may_work
from workflows.rectification import queries as problem_queries
from workflows.rectification.models import Problem
from workflows.supervision import extensions, plan_changes, queries
from workflows.supervision.items import PROCESS_KEY as SUPERVISION, get_item
from workflows.supervision.models import Item

INBOX_LIMIT = 200
COMMENT_LIMIT = 500

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


def problems_by_id(ids):
    ids = [i for i in set(ids) if i]
    if not ids:
        return {}
    with engine().db.read() as db:
        return {problem.id: problem for problem in db.scalars(select(Problem).where(Problem.id.in_(ids)))}


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
                           problems=problems_by_id(t["item_id"] for t in tasks),
                           departments=department_names())


def _visible_task(task_id):
    task = engine().tasks.get(task_id)
    if not may_see_task(g.actor, task):
        raise Forbidden(f"task {task_id} is not yours")
    return task


def _context(task, **extra):
    """Everything a task page shows besides the form: the item's notice (or the problem), plan,
    history, the request an approval decides, who holds the task, its comments."""
    rt = engine()
    presenter = Presenter(rt)
    spec = rt.tasks.task_spec(task)
    overrides = task.state == "open" and may_override(g.actor, task)
    context = {"task": presenter.task(task), "documentation": spec.documentation,
               "may_work": may_work(g.actor, task), "departments": department_names(),
               "users": user_names(), "item": None, "problem": None, "plan": None, "plans": [],
               "reports": [], "timeline": [], "change_request": None, "extension_request": None,
               "task_titles": {}, "extension_task_id": None,
               "may_claim": (task.state == "open" and not task.assignee and not task.candidate_user
                             and may_work(g.actor, task)),
               "may_unclaim": task.state == "open" and bool(task.assignee) and (
                   task.assignee == g.actor.username or overrides or g.actor.is_admin),
               "may_assign": overrides, "assignees": [], "action_errors": {}, "action_values": {}}
    with rt.db.read() as db:
        instance = db.get(Instance, task.instance_id)
        if instance is not None and instance.definition_key == plan_changes.PROCESS_KEY:
            context["change_request"] = instance.variables or {}
        if instance is not None and instance.definition_key == extensions.PROCESS_KEY:
            context["extension_request"] = instance.variables or {}
        item = db.get(Item, task.business_key) if task.business_key else None
        if item is not None and (may_work(g.actor, task) or queries.may_see(db, g.actor, item)):
            plans = queries.plans(db, item.id)
            adopted = [p for p in plans if p.state in ("approved", "filed", "changed")]
            context.update(item=item, plan=(adopted or plans)[-1] if plans else None, plans=plans,
                           reports=queries.reports(db, item.id), timeline=queries.timeline(db, item.id),
                           task_titles=task_titles_of(db, item.id))
            if (task.state == "open" and task.due_at is not None and instance is not None
                    and instance.definition_key == SUPERVISION and task.candidate_department == item.department):
                context["extension_task_id"] = task.id
        problem = db.get(Problem, task.business_key) if task.business_key and item is None else None
        if problem is not None and (may_work(g.actor, task) or problem_queries.may_see(db, g.actor, problem)):
            context.update(problem=problem, timeline=problem_queries.timeline(db, problem.id),
                           task_titles=task_titles_of(db, problem.id))
        if overrides:
            context["assignees"] = _assignees(db, task)
        context["comments"] = task_comments(db, task.id, COMMENT_LIMIT)[0]
    context.update(extra)
    return context


def _assignees(db, task):
    """Whom the task can be given to: the people its routing names (its role in its department);
    a task routed to nobody in particular may go to any active user."""
    directory = engine().registry.directory
    if task.candidate_role or task.candidate_department:
        usernames = directory.users(db, role=task.candidate_role, department=task.candidate_department)
    else:
        usernames = [u.username for u in db.scalars(select(User).where(User.active.is_(True)).order_by(User.username))]
    names = user_names()
    return [(u, names.get(u, u)) for u in usernames]


def task_titles_of(db, business_key):
    rows = db.execute(select(HumanTask.id, HumanTask.key, HumanTask.title)
                      .where(HumanTask.business_key == business_key)).all()
    titles = {row.key: row.title for row in rows if row.title}
    titles.update({row.id: row.title for row in rows if row.title})
    return titles


def _render_task(task, schema, values, errors, status=200, **extra):
    form_fields = schema_form.fields(schema or {}, values)
    return render_template("task.html", schema=schema, form_fields=form_fields, values=values,
                           errors=errors, **_context(task, **extra)), status


def _render_task_again(task, action_errors, action_values):
    """The task page with a refused claim / assign / comment shown next to its field (nothing changed)."""
    schema = forms.form_schema(engine().tasks.task_spec(task))
    values = schema_form.flatten(schema or {}, task.data or {}, engine().calendar.tz)
    return _render_task(task, schema, values, {}, FORM_SHOWN_AGAIN, action_errors=action_errors,
                        action_values=action_values)


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


# -- who holds the task: claim, give back, assign (as POST /api/v1/tasks/{id}/claim|unclaim|assign) --
@bp.post("/tasks/<task_id>/claim")
@login_required
def task_claim(task_id):
    rt = engine()
    task = _visible_task(task_id)
    try:
        rt.tasks.claim(task.id, g.actor)  # Forbidden (not a candidate): the 403 page
    except Conflict:
        flash("该任务已被他人认领或已办理。")
    else:
        flash("已认领，此任务现由您办理。")
    return redirect(url_for("web.task", task_id=task.id))


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def task_unclaim(task_id):
    rt = engine()
    task = _visible_task(task_id)
    try:
        rt.tasks.unclaim(task.id, g.actor, override=may_override(g.actor, task))
    except Conflict:
        flash("该任务的办理人已变化或已办理，请刷新后重试。")
    else:
        flash("已退回认领，任务回到候选人的待办中。")
    return redirect(url_for("web.task", task_id=task.id))


@bp.post("/tasks/<task_id>/assign")
@login_required
def task_assign(task_id):
    rt = engine()
    task = _visible_task(task_id)
    if not may_override(g.actor, task):
        raise Forbidden("only supervisors, admins and the item's leader assign this task")
    username = request.form.get("username", "").strip()
    if not username or not is_active_user(username):
        message = "请选择指派给谁" if not username else "该用户不存在或已停用"
        return _render_task_again(task, {"username": [message]}, {"username": username})
    try:
        rt.tasks.assign(task.id, username, g.actor)
    except Conflict:
        flash("该任务的办理人已变化或已办理，请刷新后重试。")
    else:
        flash(f"已指派给 {user_names().get(username, username)}。")
    return redirect(url_for("web.task", task_id=task.id))


# -- comments (as GET/POST /api/v1/tasks/{id}/comments) -------------------------------------------
@bp.post("/tasks/<task_id>/comments")
@login_required
def task_comment(task_id):
    task = _visible_task(task_id)
    body = request.form.get("body", "").strip()
    if not body or len(body) > MAX_COMMENT:
        message = "请填写留言内容" if not body else f"留言不能超过 {MAX_COMMENT} 个字"
        return _render_task_again(task, {"body": [message]}, {"body": request.form.get("body", "")})
    add_task_comment(engine(), task, g.actor, body)
    flash("留言已发表。")
    return redirect(url_for("web.task", task_id=task.id) + "#comments")


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


# -- 延期申请 ---------------------------------------------------------------------------------------
def extension_schema(steps):
    """The extension request form (the API's ExtensionIn) as a JSON Schema; the steps to choose from."""
    return {
        "type": "object", "additionalProperties": False, "required": ["task_id", "reason", "new_due", "progress"],
        "properties": {
            "task_id": {"type": "string", "enum": [s["id"] for s in steps], "enumNames": [s["label"] for s in steps],
                        "title": "申请延期的环节"},
            "new_due": {"type": "string", "format": "date-time", "title": "申请延至",
                        "description": "须晚于该环节当前的办理期限；经分管领导审批同意后生效。"},
            "reason": {"type": "string", "minLength": 1, "maxLength": 2000, "title": "延期理由", "x-widget": "textarea"},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100, "title": "目前进度（%）",
                         "description": "截至目前的完成进度，0–100。"},
        },
    }


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
    item = get_item(rt, item_id)
    with rt.db.read() as db:
        if not queries.may_see(db, g.actor, item):
            raise Forbidden(f"item {item.code} is not in your scope")
    steps = _extension_steps(item)
    schema = extension_schema(steps)
    errors, status = {}, 200
    if request.method == "GET":
        chosen = request.args.get("task_id")
        values = {"task_id": chosen if any(s["id"] == chosen for s in steps) else (steps[0]["id"] if steps else "")}
    else:
        data, values, errors = schema_form.submit(schema, request.form, rt.calendar.tz)
        if not errors:
            try:
                extensions.request_extension(rt, item, data["task_id"], data["reason"],
                                             dt.datetime.fromisoformat(data["new_due"]), data["progress"], g.actor)
            except (Conflict, Forbidden, InvalidInput) as err:
                errors = _extension_refusal(err, steps, data["task_id"])
            else:
                flash("延期申请已提交，经分管领导审批同意后生效；审批前仍按原期限办理。")
                return redirect(url_for("web.item", item_id=item.id))
        status = FORM_SHOWN_AGAIN if errors else 200
    return render_template("extension_request.html", item=item, steps=steps, errors=errors, values=values,
                           form_fields=schema_form.fields(schema, values), departments=department_names(),
                           users=user_names(),
                           may_request=(item.status == "open" and "staff" in g.actor.roles
                                        and g.actor.department == item.department)), status


def _extension_refusal(err, steps, task_id):
    """The domain's refusal in the page's words: ``{field: [message]}`` (``""``: the whole form)."""
    step = next((s for s in steps if s["id"] == task_id), None)
    title = step["title"] if step else "该环节"
    if isinstance(err, Forbidden):
        return {"": ["只有主办部门的承办人员可以申请延期。"]}
    if isinstance(err, InvalidInput):
        out = {}
        for problem in err.details or [{"field": "", "message": err.message}]:
            field, message = problem.get("field", ""), problem.get("message", "")
            if "later than" in message and step:
                message = f"须晚于该环节当前的办理期限（{engine().calendar.local(step['due_at']):%Y-%m-%d %H:%M}）"
            elif field == "task_id":
                message = "请选择本事项的办理环节"
            out.setdefault(field, []).append(message)
        return out
    message = err.message
    if "fell due" in message and step:
        return {"task_id": [f"「{title}」已于 {engine().calendar.local(step['due_at']):%Y-%m-%d %H:%M} 到期："
                            "延期须在到期前申请；逾期环节由督查员督办处置。"]}
    if "already waiting" in message:
        return {"task_id": [f"「{title}」已有延期申请在等待分管领导审批。"]}
    if "no due" in message:
        return {"task_id": [f"「{title}」的办理期限不能调整。"]}
    if "is already" in message:
        return {"task_id": [f"「{title}」已办理完毕，无需延期。"]}
    if message.startswith("item "):
        return {"": ["该事项已办结或已撤销，不能申请延期。"]}
    return {"": [message]}
