"""问责台账 (the measure desk) and 问责措施目录 (the catalogue the secretariat edits).

The desk lists the recorded measures of a year (``workflows.supervision.queries.measures``,
the API's query): the item or problem, the department, the measure and its points, the people
answerable, the referral to 纪检 / 人事 and its result, and the talk's record (约谈), which
supervisors, the secretariat and admins add in place for a talk's measure
(``api.measures.save_interview``, the API's function). The catalogue page edits the kinds
through ``api.measures.save_kind``. Refusals are flashed in Chinese and change nothing.
"""
import datetime as dt

from flask import abort, flash, g, redirect, render_template, request, url_for

from api.measures import INTERVIEW_RECORDERS, KIND_EDITORS, save_interview, save_kind
from api.escalations import MEASURE_READERS
from api.runtime import engine
from api.web import bp, labels
from api.web.labels import error_text
from api.web.lookups import department_names, items_by_id, problems_by_id, user_names
from api.web.session import has_role, roles_required
from engine.errors import EngineError
from workflows.supervision import measures, queries

LIMIT = 500


def _year():
    value = request.args.get("year", "")
    if value.isdigit() and 2000 <= int(value) <= 2200:
        return int(value)
    return engine().calendar.local(engine().clock.now()).year


@bp.get("/measures")
@roles_required(*MEASURE_READERS)
def measure_desk():
    year = _year()
    department = request.args.get("department") or None
    rt = engine()
    with rt.db.read() as db:
        rows, total = queries.measures(db, department, year, LIMIT, 0)
        kinds = {k.code: k for k in measures.kinds(db)}
        open_referrals = {r.id: measures.open_referral_task(db, r) for r in rows if r.referral}
    departments = department_names()
    return render_template(
        "measures.html", rows=rows, total=total, year=year, department=department, departments=departments,
        kinds=kinds, users=user_names(), items=items_by_id(r.item_id for r in rows if r.item_id),
        problems=problems_by_id(r.problem_id for r in rows if r.problem_id), open_referrals=open_referrals,
        may_record=has_role(*INTERVIEW_RECORDERS), may_edit_kinds=has_role(*KIND_EDITORS),
        now=rt.calendar.local(rt.clock.now()))


@bp.post("/measures/<int:measure_id>/interview")
@roles_required(*INTERVIEW_RECORDERS)
def record_interview(measure_id):
    rt = engine()
    values = {k: request.form.get(k, "").strip() for k in ("at", "interviewees", "interviewer", "minutes")}
    back = redirect(url_for("web.measure_desk", year=request.form.get("year") or None) + f"#measure-{measure_id}")
    missing = [title for key, title in (("at", "约谈时间"), ("interviewees", "被约谈人"), ("interviewer", "约谈人"),
                                        ("minutes", "谈话记录")) if not values[key]]
    if missing:
        flash("约谈记录未保存：请填写" + "、".join(missing) + "。")
        return back
    try:
        at = dt.datetime.fromisoformat(values["at"]).replace(tzinfo=rt.calendar.tz)
    except ValueError:
        flash("约谈记录未保存：约谈时间格式不正确。")
        return back
    if len(values["minutes"]) > 20000 or len(values["interviewees"]) > 500 or len(values["interviewer"]) > 200:
        flash("约谈记录未保存：填写的内容过长。")
        return back
    try:
        save_interview(measure_id, {**values, "at": at}, g.actor)
    except EngineError as err:
        if err.status == 404:
            abort(404)
        flash("约谈记录未保存：" + error_text(err))
        return back
    flash("已保存约谈记录。")
    return back


# -- 问责措施目录 -----------------------------------------------------------------------------------
@bp.get("/measure-kinds")
@roles_required(*KIND_EDITORS)
def measure_kinds():
    with engine().db.read() as db:
        kinds = measures.kinds(db)
    return render_template("measure_kinds.html", kinds=kinds, referrals=labels.REFERRALS,
                           answerable=labels.ANSWERABLE)


def _kind_values(form, new):
    """The catalogue fields of a submitted form, or a Chinese refusal."""
    points, position = form.get("points", "").strip(), form.get("position", "").strip()
    if not points.isdigit() or int(points) > 100:
        return None, "扣分须为 0 至 100 的整数"
    if position and (not position.isdigit() or int(position) > 100000):
        return None, "排序须为非负整数"
    name = form.get("name", "").strip()
    if not name or len(name) > 100:
        return None, "请填写措施名称（不超过 100 字）"
    referral = form.get("referral") or None
    answerable = form.get("answerable", "department")
    if referral not in (None, *measures.REFERRALS) or answerable not in measures.ANSWERABLE:
        return None, "请选择有效选项"
    values = {"name": name, "points": int(points), "referral": referral, "answerable": answerable,
              "interview": form.get("interview") == "on", "active": form.get("active") == "on" or new}
    if position:
        values["position"] = int(position)
    if new:
        values["code"] = form.get("code", "").strip()
    return values, None


@bp.post("/measure-kinds")
@roles_required(*KIND_EDITORS)
def create_measure_kind():
    return _save(None)


@bp.post("/measure-kinds/<code>")
@roles_required(*KIND_EDITORS)
def change_measure_kind(code):
    return _save(code)


def _save(code):
    values, refusal = _kind_values(request.form, new=code is None)
    if refusal is None:
        try:
            saved = save_kind(values, g.actor.username, code=code)
        except EngineError as err:
            if err.status == 404:
                abort(404)
            refusal = error_text(err)
    if refusal:
        flash(f"问责措施未保存：{refusal}。")
    else:
        flash(f"已保存问责措施「{saved['name']}」。")
    return redirect(url_for("web.measure_kinds"))
