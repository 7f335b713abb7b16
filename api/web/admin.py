"""管理: users and departments (list and create), the working-day calendar per year, and in
simulated mode the clock with its "advance" control (``engine.advance_clock``: every timer
due by then fires before the page answers).
"""
import datetime as dt
import re

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from api.models import Department, User
from api.organisation import CODE_PATTERN, add_department, add_user
from api.runtime import engine
from api.web import bp
from api.web.labels import ROLES as ROLE_LABELS
from api.web.lookups import department_names
from api.web.session import roles_required
from engine.errors import Conflict, InvalidInput
from engine.roles import ROLES


def _code_problem(code):
    if not code:
        return "此项为必填"
    if len(code) > 100 or not re.match(CODE_PATTERN, code):
        return "只能使用字母、数字、“_”“.”“-”，不超过 100 个字符"
    return None


@bp.route("/admin/departments", methods=["GET", "POST"])
@roles_required("admin")
def admin_departments():
    errors, values = {}, {}
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip() for k in ("code", "name")}
        if problem := _code_problem(values["code"]):
            errors["code"] = [problem]
        if not values["name"] or len(values["name"]) > 200:
            errors["name"] = ["此项为必填，不超过 200 个字符"]
        if not errors:
            try:
                add_department(engine(), values["code"], values["name"], g.actor.username)
            except Conflict:
                errors["code"] = ["该部门代码已存在"]
            else:
                flash(f"已创建部门：{values['name']}。")
                return redirect(url_for("web.admin_departments"))
    with engine().db.read() as db:
        rows = list(db.scalars(select(Department).order_by(Department.code)))
        members = {}
        for user in db.scalars(select(User)):
            members[user.department] = members.get(user.department, 0) + 1
    return render_template("admin/departments.html", departments=rows, members=members, errors=errors,
                           values=values)


@bp.route("/admin/users", methods=["GET", "POST"])
@roles_required("admin")
def admin_users():
    errors, values = {}, {"roles": []}
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip() for k in ("username", "display_name", "department")}
        values["roles"] = [r for r in request.form.getlist("roles") if r in ROLES]
        password = request.form.get("password", "")
        if problem := _code_problem(values["username"]):
            errors["username"] = [problem]
        if len(password) < 8 or len(password) > 500:
            errors["password"] = ["密码至少 8 个字符"]
        if not values["display_name"] or len(values["display_name"]) > 200:
            errors["display_name"] = ["此项为必填，不超过 200 个字符"]
        if not values["roles"]:
            errors["roles"] = ["至少选择一个角色"]
        if not errors:
            body = {**values, "password": password, "department": values["department"] or None}
            try:
                add_user(engine(), body, g.actor.username)
            except Conflict:
                errors["username"] = ["该用户名已存在"]
            except InvalidInput:
                errors["department"] = ["部门不存在"]
            else:
                flash(f"已创建用户：{values['display_name']}（{values['username']}）。")
                return redirect(url_for("web.admin_users"))
    with engine().db.read() as db:
        users = list(db.scalars(select(User).order_by(User.department, User.username)))
    return render_template("admin/users.html", users=users, departments=department_names(), errors=errors,
                           values=values, roles=[(r, ROLE_LABELS[r]) for r in ROLES])


WEEKDAYS = "一二三四五六日"


@bp.get("/admin/calendar")
@roles_required("admin")
def admin_calendar():
    """A year's data status, its non-working weekdays (holidays) and working weekend days (调休)."""
    calendar = engine().calendar
    today = calendar.local(engine().clock.now()).date()
    year = request.args.get("year", type=int) or today.year
    if not 1900 <= year <= 2200:
        abort(404)
    holidays, working_weekends, day = [], [], dt.date(year, 1, 1)
    while day.year == year:
        working = calendar.is_working_day(day)
        if day.weekday() < 5 and not working:
            holidays.append(day)
        elif day.weekday() >= 5 and working:
            working_weekends.append(day)
        day += dt.timedelta(days=1)
    return render_template("admin/calendar.html", year=year, status=calendar.year_status(year),
                           holidays=holidays, working_weekends=working_weekends, weekdays=WEEKDAYS,
                           today=today, config=engine().config["calendar"],
                           extra_holidays=sorted(d for d in calendar.extra_holidays if d.year == year),
                           extra_working_days=sorted(d for d in calendar.extra_working_days if d.year == year))


@bp.route("/admin/clock", methods=["GET", "POST"])
@roles_required("admin")
def admin_clock():
    rt = engine()
    if rt.clock.mode != "simulated":
        abort(404)
    error = None
    now = rt.clock.now()
    if request.method == "POST":
        target, error = _advance_target(rt, now)
        if error is None:
            rt.advance_clock(to=target)
            flash(f"时钟已推进到 {rt.calendar.local(rt.clock.now()):%Y-%m-%d %H:%M}，到期的定时任务已触发。")
            return redirect(url_for("web.admin_clock"))
    return render_template("admin/clock.html", now=rt.calendar.local(now), error=error,
                           form=request.form)


def _advance_target(rt, now):
    """``(target, None)`` or ``(None, message)`` from the form: an amount of time, or a moment."""
    if request.form.get("to"):
        try:
            target = dt.datetime.fromisoformat(request.form["to"])
        except ValueError:
            return None, "请输入有效的日期时间"
        target = target if target.tzinfo else target.replace(tzinfo=rt.calendar.tz)
    else:
        try:
            amount = float(request.form.get("amount", ""))
        except ValueError:
            return None, "请输入推进的时长或目标时间"
        unit = {"minutes": 60, "hours": 3600, "days": 86400}.get(request.form.get("unit"), 3600)
        if not 0 < amount * unit <= 10 * 366 * 86400:
            return None, "推进的时长须大于 0 且不超过 10 年"
        target = now + dt.timedelta(seconds=amount * unit)
    if target < now:
        return None, "时钟不能回拨"
    return target, None
