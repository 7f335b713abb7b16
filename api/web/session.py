"""Log in and out, the current user, role checks, navigation, and the pages' error handling.

The session cookie holds only a session token: a row of ``api_token`` (``via = "web"``,
``api.auth.open_session``) that expires on wall time. Every request re-reads the token and
its user, so logging out, a deactivated user or a changed password ends the session on the
server at once (an old copy of the cookie is worth nothing). Logging in is the API's
``api.auth.log_in``: throttled, audited, the same cost for unknown usernames. Checks are the API's: admin passes every
role check (``api.auth.require_roles`` semantics), actors come from ``api.auth.user_actor``.

A form shown again with its problems is answered 200, not 400: it is the page the person
asked for, and browsers log every 4xx navigation as a console error.
"""
import datetime as dt
import functools
import math
from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from api import login_throttle
from api import cockpit as api_cockpit
from api import escalations as api_escalations
from api import reports as api_reports
from api.auth import end_token, log_in, open_session, session_user, user_actor
from api.errors import ApiError, error_body
from api.runtime import engine
from api.web import bp, csrf, labels
from engine.errors import EngineError
from workflows.supervision import notifications


# -- the current user -------------------------------------------------------------------------
def _session_user():
    """``g.user`` / ``g.actor`` from the session cookie (None when not logged in)."""
    g.user = g.actor = None
    if session.get("token"):
        user = session_user(session["token"])
        if user is None:  # logged out, expired, deactivated or password changed
            session.clear()
        else:
            g.user, g.actor = user, user_actor(user)


@bp.before_request
def load_user():
    g.user = g.actor = None
    if request.endpoint in ("web.static", "web.vendor"):
        return
    _session_user()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapped


def roles_required(*roles):
    """Logged in with one of ``roles`` (admin always passes), else 403."""
    def decorate(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not has_role(*roles):
                return error_page(403, "您没有访问此页面的权限。", "需要以下角色之一：" + "、".join(
                    labels.ROLES.get(r, r) for r in roles))
            return view(*args, **kwargs)
        return wrapped
    return decorate


def has_role(*roles):
    actor = g.get("actor")
    return actor is not None and (actor.is_admin or actor.has_any(*roles))


# -- navigation -----------------------------------------------------------------------------
NAV = (  # (endpoint, label, roles or None for everyone logged in)
    ("web.inbox", "待办", None),
    ("web.notifications", "通知", None),
    ("web.cockpit", "驾驶舱", api_cockpit.READERS),
    ("web.items", "督办事项", None),
    ("web.problems", "问题台账", None),
    ("web.campaigns_list", "专项行动", None),
    ("web.complaints", "群众反映", ("secretariat",)),
    ("web.report_weekly", "周报", api_reports.READERS),
    ("web.report_ranking", "月度排名", api_reports.RANKING_READERS),
    ("web.report_year", "年度考核", api_reports.READERS),
    ("web.report_monthly", "月度调度", api_reports.READERS),
    ("web.publications_page", "公示发布", ("secretariat",)),
    ("web.escalations", "督查台", ("supervisor",)),
    ("web.measure_desk", "问责台账", api_escalations.MEASURE_READERS),
    ("web.designer", "流程设计", ("designer",)),
    ("web.admin_monitor", "运行监控", ("admin",)),
    ("web.admin_users", "用户", ("admin",)),
    ("web.admin_departments", "部门", ("admin",)),
    ("web.admin_calendar", "工作日历", ("admin",)),
    ("web.admin_clock", "模拟时钟", ("admin",)),
)


@bp.app_context_processor
def navigation():
    if not g.get("user"):
        return {"nav": []}
    rt = engine()
    simulated = rt.clock.mode == "simulated"
    entries = [(endpoint, text) for endpoint, text, roles in NAV
               if (roles is None or has_role(*roles)) and (endpoint != "web.admin_clock" or simulated)]
    with rt.db.read() as db:
        unread = notifications.unread_count(db, g.user.username)
    section = request.endpoint or ""
    return {"nav": entries, "nav_active": _active_entry(section, entries),
            "nav_badges": {"web.notifications": unread} if unread else {}, "unread_notifications": unread}


SECTIONS = {"web.task": "web.inbox", "web.done": "web.inbox", "web.plan_change": "web.inbox", "web.extension_request": "web.inbox",
            "web.item": "web.items", "web.item_new": "web.items",
            "web.report_ranking_print": "web.report_ranking",
            "web.problem": "web.problems", "web.problem_new": "web.problems",
            "web.campaign": "web.campaigns_list", "web.campaign_new": "web.campaigns_list",
            "web.campaign_edit": "web.campaigns_list", "web.campaign_self_check": "web.campaigns_list",
            "web.complaint": "web.complaints", "web.admin_instances": "web.admin_monitor",
            "web.admin_user": "web.admin_users", "web.measure_kinds": "web.measure_desk"}


def _active_entry(endpoint, entries):
    endpoints = {e for e, _ in entries}
    if endpoint.startswith("web.designer"):
        return "web.designer"
    if endpoint == "web.admin_migration":  # designers reach it from their versions page
        return "web.admin_monitor" if "web.admin_monitor" in endpoints else "web.designer"
    return SECTIONS.get(endpoint, endpoint)


@bp.app_template_filter("localtime")
def localtime(value, fmt="%Y-%m-%d %H:%M"):
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if getattr(value, "tzinfo", None) is not None:
        value = engine().calendar.local(value)
    return value.strftime(fmt)


# -- log in / out ----------------------------------------------------------------------------
def _unsafe_next(target):
    """Whether ``next`` holds what no redirect may carry: a control character (a newline would
    split the Location header) or a backslash (browsers read ``/\\host`` as another site)."""
    return any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in target or "")


def _safe_next(target):
    """A same-site path to go back to after logging in, or the inbox."""
    parts = urlsplit(target or "")
    if (not target or _unsafe_next(target) or parts.scheme or parts.netloc or not target.startswith("/")
            or target.startswith("//")):
        return url_for("web.inbox")
    return target


@bp.get("/")
def home():
    return redirect(url_for("web.inbox" if g.user else "web.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    username = request.form.get("username", "").strip()
    if _unsafe_next(request.args.get("next")):  # refused before anyone is logged in or audited
        return error_page(400, "请求有误。", "登录后返回的地址无效。")
    if request.method == "POST":
        rt = engine()
        try:
            user = log_in(rt, username[:100], request.form.get("password", "")[:500], via="web")
        except login_throttle.Throttled as err:
            return render_template("login.html", error=_throttled_text(err.retry_after), username=username), 429, \
                {"Retry-After": str(err.retry_after)}
        if user is None:
            error = "用户名或密码错误。"
        else:
            session.clear()
            session.permanent = True
            session["token"], _ = open_session(rt, user.username, via="web")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, username=username)


def _throttled_text(seconds):
    wait = f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分钟"
    return f"登录失败次数过多，请 {wait}后再试；如需立即解除，请联系系统管理员。"


@bp.post("/logout")
def logout():
    if session.get("token"):
        end_token(session["token"])
    session.clear()
    flash("您已退出登录。")
    return redirect(url_for("web.login"))


# -- errors --------------------------------------------------------------------------------
def error_page(status, message, detail=None):
    return render_template("error.html", status=status, message=message, detail=detail), status


def unknown_url(err):
    """Any URL no route answers (an app-wide 404): under ``/api/`` the API's JSON error (its
    contract: ``{"error": {"code": "not_found", ...}}``), anywhere else a Chinese 404 page."""
    if request.path == "/api" or request.path.startswith("/api/"):
        return error_body(ApiError(404, "not_found", err.description))
    _session_user()  # no blueprint ran: the page still shows the reader's navigation
    return error_page(404, "未找到该页面。", "地址可能有误，或该页面已不存在。请从导航栏进入。")


@bp.errorhandler(CSRFError)
def csrf_failed(err):
    return error_page(400, "表单已失效，请返回后刷新页面重新提交。", err.description)


@bp.errorhandler(EngineError)
def engine_failed(err):
    messages = {403: "您无权进行此操作。", 404: "未找到该记录。", 409: "该事项已被他人处理或状态已变化，请刷新后重试。"}
    return error_page(err.status, messages.get(err.status, "操作未能完成。"), labels.error_text(err))


@bp.errorhandler(HTTPException)
def http_failed(err):
    messages = {400: "请求有误。", 403: "您无权进行此操作。", 404: "未找到该页面。",
                405: "不支持此操作。", 413: "提交的内容过大。"}
    return error_page(err.code, messages.get(err.code, "操作未能完成。"), None)
