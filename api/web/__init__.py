"""The web application (网页端): server-rendered pages in Simplified Chinese over the same engine.

One blueprint, ``web``, one module per area: ``session`` (log in, the current user, role
checks, navigation with the unread count), ``inbox`` (待办), ``tasks`` (a task's page: its
form, claim / assign, comments), ``notifications`` (通知), ``cockpit`` (驾驶舱), ``items`` (督办事项) with
``item_requests`` (计划调整 and 延期申请), ``problems``
(问题台账, 问题登记), ``complaints`` (群众反映 triage), ``reports`` (周报, 月度排名 with charts,
打印版通报, 年度考核), ``publications`` (公示发布), ``escalations`` (督查台, the escalation desk), ``designer`` (流程设计),
``admin`` (users with login lockouts, departments, calendar, clock), ``account`` (修改密码),
``monitor`` (运行监控, 流程实例, 流程迁移) and ``assets`` (bpmn-js / dmn-js / ECharts / Swagger UI
from node_modules), ``api_docs`` (the API docs page, /api/v1/docs). ``schema_form`` turns a task's
JSON Schema into form fields and a submitted form back into task data; ``request_forms``
derives such a schema from an API request schema; ``lookups`` reads the names pages show.

Pages use the same users, roles and checks as the API (``api.auth.user_actor``, the access
policy ``workflows.access``, the domains' ``queries.scope``) and
call the engine and the domains directly, not the HTTP API. Sessions are Flask's signed
cookie; the key is ``[web] secret_key``, or one generated once into ``[web]
secret_key_file`` (``var/secret_key``) so every process on the machine shares it — several
hosts must set ``secret_key``. The cookie holds a session token (``api.auth``), checked on
the server on every request; ``[web] secure_cookies`` gives it the ``Secure`` flag (HTTPS). Every POST
of this blueprint carries a CSRF token (Flask-WTF's CSRFProtect); the API's bearer-token
endpoints are not cookie-authenticated and need none.
"""
import datetime as dt
import logging
import os
import secrets
from pathlib import Path

from flask import Blueprint
from flask_wtf.csrf import CSRFProtect

from engine.config import REPO_ROOT

log = logging.getLogger(__name__)
bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/web/static")
bp.enable_openapi = False  # pages, not API: APIFlask's spec generator asks every blueprint
csrf = CSRFProtect()


def secret_key(config):
    """``[web] secret_key``, else the key in ``[web] secret_key_file`` (created once, mode 0600)."""
    web = config.get("web", {})
    if web.get("secret_key"):
        return web["secret_key"]
    path = Path(web.get("secret_key_file") or "var/secret_key")
    path = path if path.is_absolute() else REPO_ROOT / path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            log.info("generated the web session key in %s", path)
    return path.read_text().strip()


def init_app(app, config):
    from api.web import (  # noqa: F401
        account, admin, api_docs, assets, campaigns, cockpit, complaints, designer, escalations, files, inbox,
        item_requests, item_management, items, labels, lookback, lookups, measures, monitor, notifications, problems,
        publications, reports, session, tasks)

    app.secret_key = secret_key(config)
    hours = float(config.get("auth", {}).get("token_hours", 12))
    secure = bool(config.get("web", {}).get("secure_cookies", False))  # true behind HTTPS
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,   # checked in the web blueprint only (session.before_request)
        WTF_CSRF_TIME_LIMIT=None,       # valid as long as the session: forms filled slowly on phones
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_NAME="duban_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=hours),
    )
    csrf.init_app(app)
    app.jinja_env.globals["labels"] = labels  # macros imported without context see globals
    app.jinja_env.globals["process_label"] = lookups.process_label
    app.register_blueprint(bp)
    app.register_error_handler(404, session.unknown_url)  # by code: before APIFlask's HTTPException handler
    assets.check_installed()
