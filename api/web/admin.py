"""管理: users (list, create, edit, reset password, login lockouts with 解除) and departments
(the tree, each under its parent; create under a parent, rename, move, deactivate), the working-day calendar per year (status, the published
schedule's entry, the preview and apply of the due times it moves), and in simulated mode
the clock with its "advance" control (``engine.advance_clock``: every timer due by then fires
before the page answers). The writes are the API's (``api.organisation``, ``api.auth``).
"""
import datetime as dt
import re

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from api import login_throttle, passwords
from api.auth import lift_lockout
from api.models import Department, User
from api.organisation import (CODE_PATTERN, add_department, add_user, change_department, change_user, depth,
                              reset_password, tree_order)
from api.runtime import engine, wall_now
from api.web import bp
from api.calendar import year_days
from api.web.labels import ROLES as ROLE_LABELS, error_text, field_errors, refusal_text
from api.web.lookups import department_names, items_by_id
from engine.simulation import MAX_ADVANCE
from api.web.session import roles_required
from engine import calendar_changes
from engine.calendar_schedules import FIRST_YEAR, LAST_YEAR
from engine.errors import Conflict, EngineError, InvalidInput, NotFound
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
        values = {k: request.form.get(k, "").strip() for k in ("code", "name", "parent")}
        if problem := _code_problem(values["code"]):
            errors["code"] = [problem]
        if not values["name"] or len(values["name"]) > 200:
            errors["name"] = ["此项为必填，不超过 200 个字符"]
        if not errors:
            try:
                add_department(engine(), values["code"], values["name"], g.actor.username, values["parent"] or None)
            except Conflict:
                errors["code"] = ["该部门代码已存在"]
            except InvalidInput as err:
                errors.update(field_errors(err, default="parent"))
            else:
                flash(f"已创建部门：{values['name']}。")
                return redirect(url_for("web.admin_departments"))
    with engine().db.read() as db:
        rows = tree_order(db.scalars(select(Department)))
        members = {}
        for user in db.scalars(select(User)):
            members[user.department] = members.get(user.department, 0) + 1
    return render_template("admin/departments.html", departments=rows, members=members, errors=errors,
                           values=values, depth=depth)


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
        if problems := password_problems(password, values["username"]):
            errors["password"] = problems
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
            except InvalidInput as err:
                errors.update(field_errors(err, default="department"))
            else:
                flash(f"已创建用户：{values['display_name']}（{values['username']}）。")
                return redirect(url_for("web.admin_users"))
    rt = engine()
    with rt.db.read() as db:
        users = list(db.scalars(select(User).order_by(User.department, User.username)))
    lockouts = login_throttle.lockouts(rt.db, login_throttle.Policy.from_config(rt.config), wall_now())
    return render_template("admin/users.html", users=users, departments=department_names(), errors=errors,
                           values=values, roles=[(r, ROLE_LABELS[r]) for r in ROLES], lockouts=lockouts)


def password_problems(password, username):
    """The password policy's problems in Chinese (``api.passwords``)."""
    return [refusal_text(p) for p in passwords.problems(password, username)]


@bp.route("/admin/users/<username>", methods=["GET", "POST"])
@roles_required("admin")
def admin_user(username):
    """One user: display name, department, roles, active (编辑), and a new password (重置密码)."""
    rt = engine()
    with rt.db.read() as db:
        user = db.get(User, username)
    if user is None:
        abort(404)
    errors = {}
    if request.method == "POST" and request.form.get("action") == "reset":
        password = request.form.get("password", "")
        if problems := password_problems(password, username):
            errors["password"] = problems
        else:
            reset_password(rt, username, password, g.actor.username)
            flash(f"已重置 {user.display_name} 的密码，其已登录的会话均已退出。")
            return redirect(url_for("web.admin_user", username=username))
    elif request.method == "POST":
        changes = {"display_name": request.form.get("display_name", "").strip(),
                   "department": request.form.get("department") or None,
                   "roles": [r for r in request.form.getlist("roles") if r in ROLES],
                   "active": request.form.get("active") == "on"}
        if not changes["display_name"] or len(changes["display_name"]) > 200:
            errors["display_name"] = ["此项为必填，不超过 200 个字符"]
        if not changes["roles"]:
            errors["roles"] = ["至少选择一个角色"]
        if not errors:
            try:
                change_user(rt, username, changes, g.actor.username)
            except Conflict as err:  # one's own admin account
                errors.update(field_errors(err, default="active"))
            except InvalidInput as err:
                errors.update(field_errors(err, default="department"))
            else:
                flash(f"已保存 {changes['display_name']} 的信息。")
                return redirect(url_for("web.admin_user", username=username))
    return render_template("admin/user.html", user=user, departments=department_names(), errors=errors,
                           roles=[(r, ROLE_LABELS[r]) for r in ROLES])


@bp.post("/admin/lockouts/lift")
@roles_required("admin")
def admin_lift_lockout():
    kind, key = request.form.get("kind", ""), request.form.get("key", "")
    if kind not in login_throttle.KINDS:
        abort(400)
    try:
        lift_lockout(engine(), kind, key, g.actor.username)
    except EngineError:
        flash("该登录限制已解除或已过期。")
    else:
        flash(f"已解除{'用户名' if kind == login_throttle.USERNAME else '地址'} {key} 的登录限制。")
    return redirect(url_for("web.admin_users") + "#lockouts")


@bp.post("/admin/departments/<code>")
@roles_required("admin")
def admin_department(code):
    """Rename and move (``name``, ``parent``: empty for none) or switch active (``action`` =
    ``deactivate`` / ``activate``). A refused move (its own subtree, too deep) is flashed."""
    action = request.form.get("action")
    if action in ("deactivate", "activate"):
        changes = {"active": action == "activate"}
    else:
        name = request.form.get("name", "").strip()
        if not name or len(name) > 200:
            flash("部门名称为必填，不超过 200 个字符。")
            return redirect(url_for("web.admin_departments"))
        changes = {"name": name, "parent": request.form.get("parent") or None}
    try:
        department = change_department(engine(), code, changes, g.actor.username)
    except InvalidInput as err:
        flash(f"未保存：{error_text(err)}。")
        return redirect(url_for("web.admin_departments"))
    flash(f"已{'停用' if changes.get('active') is False else '启用' if changes.get('active') else '保存'}"
          f"部门：{department.name}。")
    return redirect(url_for("web.admin_departments"))


WEEKDAYS = "一二三四五六日"


@bp.route("/admin/calendar", methods=["GET", "POST"])
@roles_required("admin")
def admin_calendar():
    """A year on one page: its status (估算 when no schedule was published or entered), its
    weekdays off and working weekends, the form to enter the published schedule (holidays and
    调休 working days together), and the preview of the open tasks its newest change moves."""
    rt = engine()
    today = rt.calendar.local(rt.clock.now()).date()
    year = request.args.get("year", type=int) or today.year
    if not FIRST_YEAR <= year <= LAST_YEAR:
        abort(404)
    errors, notes, values = {}, [], None
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in ("holidays", "working_days")}
        try:
            _row, notes = rt.calendar_schedules.save(
                year, parse_days(values["holidays"]), parse_days(values["working_days"]), g.actor.username)
        except InvalidInput as err:
            errors = field_errors(err, fields=("holidays", "working_days"), default="holidays")
        else:
            rt.calendar.refresh(force=True)
            weekend = "、".join(n["date"] for n in notes if n["code"] == "holiday_on_weekend")
            flash(f"已保存 {year} 年节假日安排。" + (f"提示：{weekend} 是周末，本就休息（不影响计算）。" if weekend else "")
                  + "已有待办的办理期限不会自动改变：请在下方预览并应用。")
            return redirect(url_for("web.admin_calendar", year=year) + "#changes")
    off, worked = year_days(rt.calendar, year)
    entered = rt.calendar.entered(year)
    if values is None:  # the form starts from what the calendar counts now
        values = {"holidays": "\n".join(d.isoformat() for d in sorted(entered.holidays if entered else off)),
                  "working_days": "\n".join(d.isoformat() for d in sorted(entered.working_days if entered else worked))}
    return render_template("admin/calendar.html", year=year, status=rt.calendar.year_status(year),
                           holidays=off, working_weekends=worked, weekdays=WEEKDAYS,
                           today=today, config=rt.config["calendar"], errors=errors, values=values,
                           change=_change(rt, year), **_overrides(rt.calendar, year))


def _overrides(calendar, year):
    return {"extra_holidays": sorted(d for d in calendar.extra_holidays if d.year == year),
            "extra_working_days": sorted(d for d in calendar.extra_working_days if d.year == year)}


def _change(rt, year):
    """The preview of the year's newest entered schedule (None: none entered), with the items
    its moves belong to."""
    baseline = request.args.get("baseline", "previous")
    if baseline not in calendar_changes.BASELINES:
        baseline = "previous"
    try:
        change = calendar_changes.preview(rt, year, baseline)
    except NotFound:
        return None
    return {"change": change, "items": items_by_id(m.business_key for m in change.moves)}


@bp.post("/admin/calendar/changes")
@roles_required("admin")
def admin_calendar_apply():
    """Apply the previewed change to the ticked tasks: each moved with its timers, audited."""
    rt = engine()
    year = request.args.get("year", type=int)
    if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
        abort(404)
    baseline = request.form.get("baseline", "previous")
    schedule_id = request.form.get("schedule_id", "")
    if baseline not in calendar_changes.BASELINES or not schedule_id.isdigit() or len(schedule_id) > 9:
        abort(400)
    try:
        moved, skipped = calendar_changes.apply(rt, year, g.actor, task_ids=request.form.getlist("task_id"),
                                                baseline=baseline, schedule_id=int(schedule_id))
    except (Conflict, NotFound) as err:
        flash(error_text(err))
    else:
        flash(f"已按 {year} 年节假日安排调整 {len(moved)} 项待办的办理期限及其催办、逾期提醒。"
              + "".join(f"「{m.title or m.key}」未调整：{refusal_text({'code': reason})}。" for m, reason in skipped))
    return redirect(url_for("web.admin_calendar", year=year))


def parse_days(text):
    """The dates of a textarea: one per line (or separated by commas, 、 or spaces); a range
    ``2027-02-05~2027-02-12`` (or ``至``) gives every day of it. What is not a date is kept as
    written, for the validation to name it."""
    days = []
    for token in re.split(r"[\s,，、;；]+", text.strip()):
        if not token:
            continue
        parts = re.split(r"~|～|至", token)
        if len(parts) == 2:
            try:
                first, last = (dt.date.fromisoformat(p) for p in parts)
            except ValueError:
                days.append(token)
                continue
            if not 0 <= (last - first).days <= 366:
                days.append(token)
                continue
            days.extend((first + dt.timedelta(n)).isoformat() for n in range((last - first).days + 1))
        else:
            days.append(token)
    return days


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
        if not 0 < amount * unit <= MAX_ADVANCE.total_seconds():
            return None, "推进的时长须大于 0 且不超过 10 年"
        target = now + dt.timedelta(seconds=amount * unit)
    if target < now:
        return None, "时钟不能回拨"
    if target - now > MAX_ADVANCE:
        return None, "一次最多推进 10 年"
    return target, None
