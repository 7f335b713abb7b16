"""A task's page (办理): its form, the record it works on, who holds it, and its comments.

Visible to whoever may see the task in the API (``workflows.access.may_see_task``).
Completing goes through ``engine.tasks.complete`` — the same checks, the same unit of work,
the same refusals as the API — and a refused form is shown again with each problem next to
its field and every answer kept. Claim, unclaim and assign are ``engine.tasks``' commands
with the policy's rule for overriding (``workflows.access.may_override_task``) and the API's
assign (``api.tasks.assign_task``); comments are the API's (``api.tasks.add_task_comment``).
"""
from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from api.models import User
from api.present import Presenter, current_plan, problem_plan
from api.runtime import engine
from api.schemas import MAX_COMMENT
from api.tasks import add_task_comment, assign_task, task_comments
from api.web import bp, schema_form
from api.web.labels import error_text, field_errors
from api.web.lookups import department_names, task_titles_of, user_names
from api.web.session import error_page, login_required
from api.web.files import record_files
from engine import forms
from engine.errors import Conflict, InvalidInput
from engine.models import Instance
from engine.tasks import may_work
from workflows import access, drafts, records, returns
from workflows.files import evidence
from workflows.rectification import queries as rectification_queries
from workflows.supervision import extensions, plan_changes, queries
from workflows.supervision.items import PROCESS_KEY as SUPERVISION
from workflows.supervision.models import Escalation, Item

COMMENT_LIMIT = 500
REQUESTS = {plan_changes.PROCESS_KEY: "change_request", extensions.PROCESS_KEY: "extension_request"}
# The deciding steps that review a report (复查核实, 整改验收): their page shows that report and
# its evidence above the pass/fail choice.
REVIEWS = ("recheck", "verify_rectification")


def _visible_task(task_id):
    return access.visible_task(engine(), g.actor, task_id)


def _context(task, **extra):
    """Everything a task page shows besides the form: the item's notice (or the problem), plan,
    history, the request an approval decides, who holds the task, its comments."""
    rt = engine()
    with rt.db.read() as db:
        overrides = task.state == "open" and access.may_override_task(db, g.actor, task)
        context = {"task": Presenter(rt).task(task), "documentation": rt.tasks.task_spec(task).documentation,
                   "may_work": may_work(g.actor, task), "departments": department_names(),
                   "users": user_names(), "item": None, "problem": None, "plan": None, "plans": [],
                   "reports": [], "timeline": [], "change_request": None, "extension_request": None,
                   "task_titles": {}, "extension_task_id": None, "files": [], "reviewed": None,
                   "reviewed_files": [],
                   "may_claim": access.may_claim_task(g.actor, task),
                   "may_unclaim": access.may_unclaim_task(g.actor, task, overrides),
                   "may_assign": overrides, "assignees": _assignees(db, task) if overrides else [],
                   "action_errors": {}, "action_values": {}, "returned": returns.returned(db, task),
                   "confirm": _confirmation(db, task),
                   "comments": task_comments(db, task.id, COMMENT_LIMIT)[0]}
        instance = db.get(Instance, task.instance_id)
        if instance is not None and instance.definition_key in REQUESTS:
            context[REQUESTS[instance.definition_key]] = instance.variables or {}
        record = access.task_record(db, task)
        if access.may_see_task_record(db, g.actor, task, record):
            context.update(_record_context(db, task, instance, record))
    context.update(extra)
    return context


def _confirmation(db, task):
    """``(question, "field=value")`` for a form whose answer cannot be undone, else None:
    确认问责 on an escalation's own task page (as on the escalation desk)."""
    escalation = db.scalar(select(Escalation).where(Escalation.handle_task_id == task.id)) \
        if task.key == "handle_escalation" else None
    if escalation is None or not escalation.proposed_measure:
        return None
    department = department_names().get(escalation.department, escalation.department)
    return (f"确认对{department}采取“{escalation.proposed_measure}”？此操作将写入问责记录，无法撤销。",
            "action=accountability")


def _reviewed(db, task, reports):
    """``{"reviewed", "reviewed_files"}``: the report a reviewing step decides on (the last one
    submitted before the step opened) and the files its form attached."""
    if task.key not in REVIEWS:
        return {}
    before = [r for r in reports if r.submitted_at <= task.created_at] or reports
    report = before[-1] if before else None
    return {"reviewed": report, "reviewed_files": evidence.of_task(db, report.task_id) if report else []}


def _record_context(db, task, instance, record):
    """The part of a task page about the item or problem the task works on."""
    files = record_files(db, record.id)
    if not isinstance(record, Item):
        return {"problem": record, "problem_plan": problem_plan(record), "timeline": records.timeline(db, record.id),
                "files": files, "task_titles": task_titles_of(db, record.id),
                **_reviewed(db, task, rectification_queries.reports(db, record.id))}
    plans = queries.plans(db, record.id)
    reports = queries.reports(db, record.id)
    extendable = (task.state == "open" and task.due_at is not None and instance is not None
                  and instance.definition_key == SUPERVISION and task.candidate_department == record.department)
    return {"item": record, "plan": current_plan(plans), "plans": plans,
            "reports": reports, "timeline": records.timeline(db, record.id), "files": files,
            "task_titles": task_titles_of(db, record.id), "extension_task_id": task.id if extendable else None,
            **_reviewed(db, task, reports)}


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


def _render_task(task, schema, values, errors, **extra):
    form_fields = schema_form.fields(schema or {}, values)
    return render_template("task.html", schema=schema, form_fields=form_fields, values=values,
                           errors=errors, draft_saved_at=_draft_saved_at(task), **_context(task, **extra))


def _render_task_again(task, action_errors, action_values):
    """The task page with a refused claim / assign / comment shown next to its field (nothing changed)."""
    schema = forms.form_schema(engine().tasks.task_spec(task))
    return _render_task(task, schema, _first_values(task, schema), {},
                        action_errors=action_errors, action_values=action_values)


def _first_values(task, schema):
    """What the form shows before anything is typed: the caller's draft (暂存) of it; else the
    task's own data; for a step sent back (退回), the answers submitted last time, so the redo
    is an edit, not a retyping."""
    with engine().db.read() as db:
        data = drafts.get(db, task, g.actor.username)
        if data is None:
            data = task.data
            if not data and task.state == "open":
                back = returns.returned(db, task)
                data = back.previous if back is not None else None
    return schema_form.flatten(schema or {}, data or {}, engine().calendar.tz)


def _draft_saved_at(task):
    with engine().db.read() as db:
        row = db.get(drafts.TaskDraft, (task.id, g.actor.username)) if task.state == "open" else None
        return row.saved_at.isoformat() if row is not None else None


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id):
    rt = engine()
    task = _visible_task(task_id)
    schema = forms.form_schema(rt.tasks.task_spec(task))
    if request.method == "GET":
        return _render_task(task, schema, _first_values(task, schema), {})
    if task.state != "open":
        flash("该任务已办理。")
        return redirect(url_for("web.task", task_id=task.id))
    if request.form.get("_draft"):
        return _save_draft(task, schema)
    data, values, errors = schema_form.submit(schema or {}, request.form, rt.calendar.tz)
    action = request.form.get("_action", "")
    if action:
        return _render_task(task, schema, schema_form.row_action(schema or {}, values, action), {})
    if errors:
        return _render_task(task, schema, values, errors)
    try:
        _row, opened = rt.tasks.complete(task.id, data, g.actor)
    except InvalidInput as err:  # the engine's own check, or a domain's before_complete hook (整改时限):
        return _render_task(task, schema, values, field_errors(err))  # the words of its codes, by field
    except Conflict as err:
        return error_page(409, "该任务已被他人办理或状态已变化，请返回待办刷新。", error_text(err))
    flash(f"已办理：{task.title or task.key}。" + (
        "下一步：" + "、".join(t.title or t.key for t in opened) if opened else ""))
    return redirect(url_for("web.inbox"))


def _save_draft(task, schema):
    """暂存: keep what was typed (what converts: a malformed date is left out), unchecked; the
    page shows it again (``_first_values``) until the task is completed."""
    rt = engine()
    data, _values, _errors = schema_form.parse(schema or {}, request.form, rt.calendar.tz)
    try:
        drafts.save(rt, task, g.actor, data)  # Forbidden (not the caller's): the 403 page
    except InvalidInput as err:
        return error_page(400, "暂存的内容过多，请精简后重试。", error_text(err))
    flash("已暂存，下次打开此任务时将载入暂存的内容。")
    return redirect(url_for("web.task", task_id=task.id))


# -- who holds the task: claim, give back, assign (as POST /api/v1/tasks/{id}/claim|unclaim|assign) --
HOLDER_CHANGED = "该任务的办理人已变化或已办理，请刷新后重试。"


def _change_holder(task, change, done, changed):
    """Run ``change()``; flash ``done`` (or ``changed`` when the task changed meanwhile: 409)."""
    try:
        change()  # Forbidden: the 403 page
    except Conflict:
        flash(changed)
    else:
        flash(done)
    return redirect(url_for("web.task", task_id=task.id))


@bp.post("/tasks/<task_id>/claim")
@login_required
def task_claim(task_id):
    task = _visible_task(task_id)
    return _change_holder(task, lambda: engine().tasks.claim(task.id, g.actor),
                          "已认领，此任务现由您办理。", "该任务已被他人认领或已办理。")


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def task_unclaim(task_id):
    rt = engine()
    task = _visible_task(task_id)
    override = access.overrides_task(rt, g.actor, task)
    return _change_holder(task, lambda: rt.tasks.unclaim(task.id, g.actor, override=override),
                          "已退回认领，任务回到候选人的待办中。", HOLDER_CHANGED)


@bp.post("/tasks/<task_id>/assign")
@login_required
def task_assign(task_id):
    rt = engine()
    task = _visible_task(task_id)
    username = request.form.get("username", "").strip()
    try:
        return _change_holder(task, lambda: assign_task(rt, g.actor, task, username),
                              f"已指派给 {user_names().get(username, username)}。", HOLDER_CHANGED)
    except InvalidInput:  # (Forbidden, not the caller's to assign: the 403 page)
        message = "请选择指派给谁" if not username else "该用户不存在或已停用"
        return _render_task_again(task, {"username": [message]}, {"username": username})


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
