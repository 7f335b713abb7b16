"""群众反映: the secretariat's triage desk for complaints received from the public.

The list (received first: 待分拣, then 已分拣 and 不予处理 tabs, text search) and one complaint's
page with its three outcomes — 转为整改问题 (a rectification problem, source 群众反映),
转为督办事项 (a supervision item, basis 群众反映) or 不予处理 with a reason — through
``workflows.complaints.triage`` with the API's reference checks (``api.items.reference_problems``,
``api.rectification.department_exists``). A complaint is triaged at most once: a second
attempt (say, by a colleague at the same moment) is told so and changes nothing. Supervisors
may read the desk (as in the API); only the secretariat (and admins) act.
"""
from flask import flash, g, redirect, render_template, request, url_for

from api.complaints import READERS
from api.items import reference_problems
from api.rectification import department_exists
from api.runtime import engine
from api.web import bp, paging, schema_form
from api.web.items import item_schema
from api.web.labels import field_errors, refusal_text
from api.web.lookups import department_names, user_names
from api.web.problems import problem_schema
from api.web.session import has_role, roles_required
from engine.errors import Conflict, Forbidden, InvalidInput
from workflows.complaints import triage
from workflows.files import evidence

PAGE = 50
OUTCOMES = {"problem": "转为整改问题", "item": "转为督办事项", "dismiss": "不予处理"}
REASON_MAX = 2000  # the API's DismissIn


@bp.get("/complaints")
@roles_required(*READERS)
def complaints():
    state = request.args.get("state") if request.args.get("state") in triage.STATES else "received"
    q = request.args.get("q", "").strip()[:200] or None
    page = paging.page_number()
    with engine().db.read() as db:
        rows, total = triage.list_complaints(db, state, q, PAGE, (page - 1) * PAGE)
    return render_template("complaints.html", rows=rows, total=total, state=state, q=q or "", page=page,
                           pages=max((total + PAGE - 1) // PAGE, 1), users=user_names())


def triage_schema(kind):
    """The form of one outcome as a JSON Schema: the problem's or the item's registration form
    (without what triage fixes: the source / basis 群众反映), or the dismissal's reason."""
    if kind == "dismiss":
        return {"type": "object", "additionalProperties": False, "required": ["reason"], "properties": {
            "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX, "title": "不予处理的理由",
                       "x-widget": "textarea"}}}
    schema = problem_schema() if kind == "problem" else item_schema()
    drop = "source" if kind == "problem" else "basis"
    properties = {k: v for k, v in schema["properties"].items() if k != drop}
    text = "description" if kind == "problem" else "requirements"
    properties[text] = {**properties[text], "x-widget": "textarea",
                        "description": "不填则使用群众反映的原文。"}
    return {**schema, "properties": properties, "required": [r for r in schema["required"] if r != drop]}


def _values(kind, complaint):
    return {"title": complaint.text.strip().splitlines()[0][:60]} if kind != "dismiss" else {}


@bp.route("/complaints/<complaint_id>", methods=["GET", "POST"])
@roles_required(*READERS)
def complaint(complaint_id):
    rt = engine()
    row = triage.get(rt, complaint_id)  # 404 first
    kind = request.values.get("as") if request.values.get("as") in OUTCOMES else "problem"
    schema = triage_schema(kind)
    errors, values = {}, _values(kind, row)
    if request.method == "POST":
        if not has_role("secretariat"):
            raise Forbidden("only the secretariat triages complaints", reason="not_secretariat")
        if row.state != "received":
            flash("该群众反映已分拣或已不予处理。")
            return redirect(url_for("web.complaint", complaint_id=row.id))
        data, values, errors = schema_form.submit(schema, request.form, rt.calendar.tz)
        if not errors:
            try:
                created = _act(rt, kind, row, data, errors)
            except Conflict:  # triaged or dismissed by someone else meanwhile: nothing of ours was stored
                flash("该群众反映已被他人分拣或不予处理。")
                return redirect(url_for("web.complaint", complaint_id=row.id))
            except InvalidInput as err:
                errors = field_errors(err)
            else:
                if created is not None:
                    return created
    with rt.db.read() as db:
        files = evidence.of_record(db, row.id)
    return render_template("complaint.html", complaint=row, kind=kind, outcomes=OUTCOMES, errors=errors, files=files,
                           values=values, form_fields=schema_form.fields(schema, values),
                           departments=department_names(), users=user_names(),
                           may_triage=row.state == "received" and has_role("secretariat"))


def _act(rt, kind, row, data, errors):
    """Triage or dismiss; a redirect when done, None with ``errors`` filled when refused."""
    if kind == "dismiss":
        triage.dismiss(rt, row.id, data["reason"], g.actor)
        flash("已不予处理。")
        return redirect(url_for("web.complaints"))
    if kind == "problem":
        if not department_exists(data["department"]):
            errors["department"] = ["部门不存在"]
            return None
        problem = triage.triage_as_problem(rt, row.id, data, g.actor)
        flash(f"已转为整改问题：{problem.code}。")
        return redirect(url_for("web.problem", problem_id=problem.id))
    data = {**data, "co_departments": data.get("co_departments") or []}
    for problem in reference_problems(data):
        field = problem["field"].split("/")[0]
        errors.setdefault(field, []).append(refusal_text(problem))
    if errors:
        return None
    item = triage.triage_as_item(rt, row.id, data, g.actor)
    flash(f"已转为督办事项：{item.code}。")
    return redirect(url_for("web.item", item_id=item.id))

