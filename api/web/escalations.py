"""督查台 (督办升级台): the supervisors' escalation desk.

Open escalations, oldest overdue first (``workflows.supervision.queries.escalations``, the
API's query and scope): the item or problem (its code, linking to its page), the department,
the overdue step, since when, the rung of the accountability ladder and the measure the DMN
table proposed. Each one is handled in
place — 提醒催办 / 延期 (a new due date-time) / 改派 (a user of the step's department) /
确认问责 (the proposed measure, or another of the catalogue with a reason) — by completing its ``handle_escalation`` task through
``engine.tasks.complete`` with the data the task's form expects; the domain's
``before_complete`` hook and listener do the rest (``workflows.supervision.escalations``).
A refused choice is shown again next to its field, with every answer kept, and changes
nothing. The second tab lists the handled escalations.
"""
from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from api.runtime import engine
from api.web import bp, paging, schema_form
from api.web.labels import ESCALATION_ACTIONS, REFERRALS, error_text, field_errors
from api.web.lookups import department_names, items_by_id, problems_by_id, user_names
from api.web.session import roles_required
from engine import forms
from engine.clock import parse_moment
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.models import HumanTask
from engine.tasks import may_work
from workflows.supervision import measures, queries
from workflows.supervision.escalations import ACTIONS
from workflows.supervision.models import Escalation, Measure, MeasureKind

OPEN_LIMIT = 200
PAGE = 50
FIELDS = ("action", "comment", "new_due", "username", "measure", "reason")
NEEDS = {"extend": ("new_due",), "reassign": ("username",), "accountability": ("measure", "reason")}  # the fields each action sends besides comment
# Refusals of the chosen action itself (workflows.supervision.escalations): shown next to it.
ACTION_REFUSALS = ("step_closed", "no_measure")


@bp.get("/escalations")
@roles_required("supervisor")
def escalations():
    return _render(request.args.get("state"))


def _render(state, form_errors=None, form_values=None):
    state = state if state in ("open", "handled") else "open"
    rt = engine()
    page = paging.page_number()
    limit, offset = (OPEN_LIMIT, 0) if state == "open" else (PAGE, (page - 1) * PAGE)
    with rt.db.read() as db:
        rows, total = queries.escalations(db, g.actor, state, limit=limit, offset=offset)
        _, open_total = queries.escalations(db, g.actor, "open", limit=1)
        task_ids = [r.task_id for r in rows if r.task_id] + [r.handle_task_id for r in rows if r.handle_task_id]
        tasks = {t.id: t for t in db.scalars(select(HumanTask).where(HumanTask.id.in_(task_ids)))} if task_ids else {}
        kinds = measures.kinds(db, active_only=True)
        measure_names = dict(db.execute(select(Measure.escalation_id, Measure.measure).where(
            Measure.escalation_id.in_([r.id for r in rows]))).all()) if rows else {}
        directory = rt.registry.directory
        candidates = {}
        if state == "open":
            for row in rows:
                step = tasks.get(row.task_id)
                department = (step.candidate_department if step else None) or row.department
                key = (department, step.candidate_role if step else None)
                if key not in candidates:
                    candidates[key] = directory.users(db, role=key[1], department=key[0])
    names = user_names()
    desk = []
    for row in rows:
        step, handler = tasks.get(row.task_id), tasks.get(row.handle_task_id)
        department = (step.candidate_department if step else None) or row.department
        desk.append({
            "row": row, "step": step, "handler": handler,
            "step_title": (step.title if step else None) or row.task_key,
            "step_open": step is not None and step.state == "open",
            "mine": handler is not None and handler.state == "open" and may_work(g.actor, handler),
            "candidates": [(u, names.get(u, u)) for u in candidates.get((department, step.candidate_role if step else None), [])],
            "proposed_code": next((k.code for k in kinds if row.proposed_measure in (k.name, k.code)), None),
        })
    return render_template(
        "escalations.html", state=state, desk=desk, total=total, open_total=open_total, page=page,
        pages=max((total + PAGE - 1) // PAGE, 1), items=items_by_id(r.item_id for r in rows if r.item_id),
        problems=problems_by_id(r.problem_id for r in rows if r.problem_id),
        departments=department_names(), users=names, actions=ESCALATION_ACTIONS,
        form_errors=form_errors or {}, form_values=form_values or {}, now=rt.calendar.local(rt.clock.now()),
        kinds=kinds, referrals=REFERRALS, measure_names=measure_names)


@bp.post("/escalations/<int:escalation_id>")
@roles_required("supervisor")
def handle_escalation(escalation_id):
    """Complete the escalation's ``handle_escalation`` task with the chosen action."""
    rt = engine()
    with rt.db.read() as db:  # supervisors and admins see every escalation (queries.escalations)
        row = db.get(Escalation, escalation_id)
    if row is None:
        abort(404)
    if row.state != "open" or not row.handle_task_id:
        flash("该升级督办已处置或已撤销。")
        return redirect(url_for("web.escalations", state="handled"))
    values = {name: request.form.get(name, "").strip() for name in FIELDS}
    data, errors = _handle(row, values)
    if errors is _CHANGED:
        flash("该升级督办已被他人处置或状态已变化。")  # completed concurrently
        return redirect(url_for("web.escalations", state="handled"))
    if errors:
        return _render("open", {row.id: errors}, {row.id: values})
    action = values["action"]
    with rt.db.read() as db:
        record = _records([row]).get(row.id)
        step = db.get(HumanTask, row.task_id) if row.task_id else None
    flash(f"已处置：{record.code if record else ''}「{(step.title if step else None) or row.task_key}」— "
          f"{_done_words(action, data, row)}。")
    return redirect(url_for("web.escalations"))


def _records(rows):
    """``{escalation id: its item or problem}`` (an escalation belongs to one of the two)."""
    items = items_by_id(r.item_id for r in rows if r.item_id)
    problems = problems_by_id(r.problem_id for r in rows if r.problem_id)
    return {r.id: items.get(r.item_id) if r.item_id else problems.get(r.problem_id) for r in rows}


_CHANGED = {"": ["该升级督办已被他人处置或状态已变化"]}


def _handle(row, values):
    """Complete open escalation ``row``'s ``handle_escalation`` task with the form ``values``
    (``FIELDS``), through ``engine.tasks.complete``: ``(data, errors)``; ``errors`` is ``{}``
    when done, ``{field: [words]}`` when refused (nothing changed), :data:`_CHANGED` when the
    task was completed or changed concurrently."""
    rt = engine()
    task = rt.tasks.get(row.handle_task_id)
    schema = forms.form_schema(rt.tasks.task_spec(task)) or {}
    action = values["action"]
    sent = MultiDict({name: values[name] for name in ("action", "comment") + NEEDS.get(action, ()) if values[name]})
    data, _parsed, errors = schema_form.submit(schema, sent, rt.calendar.tz)
    if action not in ACTIONS:
        errors = {"action": ["请选择处置方式"]}
    if not errors:
        try:
            rt.tasks.complete(task.id, data, g.actor)
        except InvalidInput as err:  # the hook's refusal (or the engine's form check): next to its field
            errors = field_errors(err, FIELDS)
        except Conflict as err:
            if err.reason not in ACTION_REFUSALS:
                return data, _CHANGED
            errors = {"action": [error_text(err)]}
    return data, errors


# -- 批量催办 / 批量处理: several escalations, one action and comment, one completion each ----------
BULK_ACTIONS = ("remind", "extend")  # the actions that need nothing particular to one escalation
BULK_LIMIT = OPEN_LIMIT


@bp.post("/escalations/bulk")
@roles_required("supervisor")
def bulk_escalations():
    """Handle the checked escalations alike: 批量催办 (``bulk=remind``) reminds their departments;
    批量处理 (``bulk=handle``) applies the chosen action (remind, or extend to one new due time)
    with one comment. Each is its own completion of its own task, exactly as one handled
    alone (:func:`_handle`): one refused or taken meanwhile does not stop the others, and the
    page says how many succeeded and why the others did not."""
    ids = request.form.getlist("ids")
    action = "remind" if request.form.get("bulk") == "remind" else request.form.get("action", "")
    if not ids:
        flash("请先勾选要处置的升级督办。")
        return redirect(url_for("web.escalations"))
    if action not in BULK_ACTIONS or len(ids) > BULK_LIMIT or not all(i.isdigit() and len(i) < 10 for i in ids):
        flash("批量处置的内容有误，未作任何处置。")
        return redirect(url_for("web.escalations"))
    values = {name: request.form.get(name, "").strip() for name in FIELDS}
    values.update(action=action, username="")
    with engine().db.read() as db:
        rows = list(db.scalars(select(Escalation).where(Escalation.id.in_({int(i) for i in ids}))
                               .order_by(Escalation.overdue_since, Escalation.id)))
    records = _records(rows)
    done, failed = 0, []
    for row in rows:
        try:
            errors = _CHANGED if row.state != "open" or not row.handle_task_id else _handle(row, values)[1]
        except Forbidden:  # claimed by another supervisor meanwhile
            errors = {"": ["无权处置（已由他人认领）"]}
        if errors:
            record = records.get(row.id)
            words = "；".join(w for messages in errors.values() for w in messages)
            failed.append(f"{record.code if record else '—'}：{words}")
        else:
            done += 1
    missing = len({int(i) for i in ids}) - len(rows)
    failed += [f"{missing} 件未找到"] if missing else []
    verb = "批量催办" if request.form.get("bulk") == "remind" else f"批量{ESCALATION_ACTIONS[action]}"
    flash(f"{verb}：成功 {done} 件，失败 {len(failed)} 件。" + ("失败原因：" + "；".join(failed) if failed else ""))
    return redirect(url_for("web.escalations"))


def _done_words(action, data, row):
    if action == "extend":
        return f"延期至 {engine().calendar.local(parse_moment(data['new_due'])):%Y-%m-%d %H:%M}"
    if action == "reassign":
        return f"改派给 {user_names().get(data['username'], data['username'])}"
    if action == "accountability":
        with engine().db.read() as db:
            kind = db.get(MeasureKind, data["measure"]) if data.get("measure") else None
        return f"确认问责：{kind.name if kind else row.proposed_measure}"
    return "已提醒催办"
