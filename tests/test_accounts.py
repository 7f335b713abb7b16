"""Issue 13, accounts: tokens and web sessions on wall time, the login throttle, and the
accounts API (deactivate, reset, change one's own password, roles, departments).

Wall time is a fake clock the tests move (``app.extensions[api.runtime.WALL_CLOCK]``): no
sleeping. The business clock is the simulated one of the test configuration.
"""
import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from api import passwords
from api.app import create_app
from api.runtime import WALL_CLOCK
from engine.models import AuditRecord
from tests.api_client import PASSWORD, Client, Server
from tests.conftest import BOTH_DATABASES
from tests.test_web_pages import Web

UTC = dt.timezone.utc
STRONG = "Lanterns-over-the-river-7"


class WallClock:
    def __init__(self):
        self.moment = dt.datetime.now(UTC)

    def now(self):
        return self.moment

    def advance(self, **delta):
        self.moment += dt.timedelta(**delta)


@pytest.fixture
def wall(server):
    clock = WallClock()
    server.app.extensions[WALL_CLOCK] = clock
    return clock


def token_for(server, username, password=PASSWORD):
    response = server.anonymous().post("/api/v1/auth/token", {"username": username, "password": password})
    assert response.status_code == 200, response.text
    return Client(server.base, response.json()["token"])


def try_login(server, username, password):
    return server.anonymous().post("/api/v1/auth/token", {"username": username, "password": password})


# -- 1. lifetimes are wall time ------------------------------------------------------------------
def test_advancing_the_business_clock_logs_nobody_out(server, wall):
    zhang, web = token_for(server, "zhang"), Web(server.app, "zhang")
    admin = token_for(server, "admin")
    assert admin.post("/api/v1/clock/advance", {"seconds": 5 * 86400}).status_code == 200
    assert zhang.get("/api/v1/me").status_code == 200
    assert web.get("/inbox").status_code == 200


def test_tokens_and_sessions_expire_on_wall_time(server, wall):
    zhang, web = token_for(server, "zhang"), Web(server.app, "zhang")
    wall.advance(hours=11, minutes=59)
    assert zhang.get("/api/v1/me").status_code == 200 and web.get("/inbox").status_code == 200
    wall.advance(minutes=2)
    assert zhang.get("/api/v1/me").status_code == 401
    assert web.get("/inbox").status_code == 302


# -- 2. the login throttle -----------------------------------------------------------------------
@BOTH_DATABASES
def test_failed_logins_slow_then_refuse_even_the_right_password(server, wall):
    for _ in range(3):
        assert try_login(server, "zhang", "wrong-guess").status_code == 401
    slowed = try_login(server, "zhang", PASSWORD)
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "1"
    assert slowed.json()["error"]["code"] == "too_many_requests"
    assert slowed.json()["error"]["details"][0]["code"] == "login_throttled"
    wall.advance(seconds=1)
    assert try_login(server, "zhang", "wrong-guess").status_code == 401  # the 4th failure: wait 2 s
    assert try_login(server, "zhang", PASSWORD).headers["Retry-After"] == "2"
    for _ in range(6):  # up to 10 failures: locked for 15 minutes
        wall.advance(seconds=60)
        assert try_login(server, "zhang", "wrong-guess").status_code == 401
    wall.advance(seconds=60)
    locked = try_login(server, "zhang", PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) == 15 * 60 - 60
    assert try_login(server, "li", PASSWORD).status_code == 200  # another user is not affected

    admin = token_for(server, "admin")
    lockouts = admin.get("/api/v1/auth/lockouts").json()["items"]
    assert [(x["key"], x["failures"], x["retry_after"]) for x in lockouts if x["kind"] == "username"] == [
        ("zhang", 10, 15 * 60 - 60)]
    assert admin.post("/api/v1/auth/lockouts/lift", {"kind": "username", "key": "zhang"}).status_code == 200
    assert admin.post("/api/v1/auth/lockouts/lift", {"kind": "username", "key": "zhang"}).status_code == 404
    assert try_login(server, "zhang", PASSWORD).status_code == 200
    kinds = [r.kind for r in audit(server) if r.kind in ("login_failed", "login_lockout_lifted")]
    assert kinds.count("login_failed") == 10 and kinds[-1] == "login_lockout_lifted"


@BOTH_DATABASES
def test_the_throttle_holds_across_processes(server, wall, engine_factory):
    """Two API processes over one database share the counters (the second has its own app)."""
    other = Server(engine_factory())
    other.app.extensions[WALL_CLOCK] = wall
    try:
        for target in (server, other, server):
            assert try_login(target, "wang", "wrong-guess").status_code == 401
        assert try_login(other, "wang", PASSWORD).status_code == 429
    finally:
        other.stop()


@BOTH_DATABASES
def test_parallel_guesses_cannot_slip_past_the_limit(server, wall, engine_factory):
    """20 guesses at once through two processes: each attempt is counted before its password is
    checked, under the counter's lock, so exactly the 3 free failures get an answer."""
    other = Server(engine_factory())
    other.app.extensions[WALL_CLOCK] = wall
    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            codes = list(pool.map(lambda n: try_login((server, other)[n % 2], "wang", f"guess-{n}").status_code,
                                  range(20)))
    finally:
        other.stop()
    assert sorted(codes) == [401] * 3 + [429] * 17


def test_one_address_guessing_many_usernames_is_slowed(server, wall):
    for n in range(25):
        assert try_login(server, f"nobody{n}", "wrong-guess").status_code == 401
    refused = try_login(server, "li", PASSWORD)  # a new username, but the same address
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"


def test_unknown_users_cost_a_password_check_and_failures_are_audited(server, wall, monkeypatch):
    checked = []
    real = passwords.check_password_hash
    monkeypatch.setattr(passwords, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    assert try_login(server, "no-such-user", "a-secret-guess").status_code == 401
    assert try_login(server, "zhang", "a-secret-guess").status_code == 401
    assert len(checked) == 2 and checked[0].split("$")[0] == passwords.hash_password("x").split("$")[0]
    failed = [r for r in audit(server) if r.kind == "login_failed"]
    assert [(r.actor, r.data["known_user"]) for r in failed] == [("no-such-user", False), ("zhang", True)]
    assert "a-secret-guess" not in repr([r.data for r in audit(server)])


def test_the_login_page_is_throttled_too(server, wall):
    web = Web(server.app)
    for _ in range(3):
        assert "用户名或密码错误" in web.post("/login", {"username": "zhang", "password": "nope"}).text
    refused = web.post("/login", {"username": "zhang", "password": PASSWORD})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "登录失败次数过多" in refused.text and "duban_session" not in refused.headers.get("Set-Cookie", "")


@BOTH_DATABASES
def test_expired_counters_are_swept_when_a_new_one_starts(server, wall):
    """The table grows only when a failure starts a counter; that insert first deletes the
    counters whose window has passed, keeping any lock still in force."""
    for n in range(5):
        assert try_login(server, f"ghost{n}", "wrong-guess").status_code == 401
    for _ in range(10):  # zhang: locked for 15 minutes
        wall.advance(seconds=61)
        try_login(server, "zhang", "wrong-guess")
    assert ("username", "ghost0") in counters(server) and ("username", "zhang") in counters(server)
    wall.advance(minutes=14)  # the ghosts' window (15 min) has passed; zhang's lock has not
    assert try_login(server, "ghost0", "wrong-guess").status_code == 401  # a known address: no sweep
    assert ("username", "ghost1") in counters(server)
    assert try_login(server, "newcomer", "wrong-guess").status_code == 401
    assert counters(server) == {("username", "ghost0"): 1, ("username", "zhang"): 10,
                                ("username", "newcomer"): 1, ("address", "127.0.0.1"): 17}
    admin = token_for(server, "admin")
    assert [x["key"] for x in admin.get("/api/v1/auth/lockouts").json()["items"] if x["kind"] == "username"] == [
        "ghost0", "newcomer", "zhang"]


def counters(server):
    from api.models import LoginThrottle

    with server.engine.db.read() as session:
        return {(row.kind, row.key): row.failures for row in session.scalars(select(LoginThrottle))}


def audit(server):
    with server.engine.db.read() as session:
        return session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()


# -- 3. accounts ---------------------------------------------------------------------------------
NEW_USER = {"username": "zhao", "display_name": "教育局赵六", "department": "d1", "roles": ["staff"]}


@pytest.mark.parametrize("password, problem", [
    ("short-pw", "password_too_short"), ("password123456", "common_password"),
    ("Qwertyuiop123", "common_password"), ("zhao-river-lanterns", "contains_username")])
def test_weak_passwords_are_refused_everywhere(server, password, problem):
    admin = server.login("admin")
    created = admin.post("/api/v1/users", {**NEW_USER, "password": password})
    assert created.status_code == 400 and created.json()["error"]["code"] == "weak_password"
    assert problem in [d["code"] for d in created.json()["error"]["details"]]
    assert admin.post("/api/v1/users", {**NEW_USER, "password": STRONG}).status_code == 201
    reset = admin.post("/api/v1/users/zhao/password", {"password": password})
    assert reset.status_code == 400 and reset.json()["error"]["code"] == "weak_password"
    own = token_for(server, "zhao", STRONG).post("/api/v1/me/password", {"current": STRONG, "new": password})
    assert own.status_code == 400 and own.json()["error"]["code"] == "weak_password"


def test_the_common_password_list_is_shipped():
    assert len(passwords.common_passwords()) > 2000
    assert passwords.problems(STRONG, "zhang") == []


def test_admin_changes_roles_department_name_and_deactivation_ends_sessions(server, wall):
    admin = server.login("admin")
    zhang, web = token_for(server, "zhang"), Web(server.app, "zhang")
    changed = server.login("admin").request("PATCH", "/api/v1/users/zhang", json={
        "display_name": "张三", "department": "d2", "roles": ["staff", "discipline"]})
    assert changed.status_code == 200, changed.text
    assert zhang.get("/api/v1/me").json() == {"username": "zhang", "display_name": "张三", "department": "d2",
                                              "roles": ["discipline", "staff"]}
    bad = admin.request("PATCH", "/api/v1/users/zhang", json={"department": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["code"] == "unknown_department"
    assert admin.request("PATCH", "/api/v1/users/nobody", json={"active": False}).status_code == 404
    assert admin.request("PATCH", "/api/v1/users/zhang", json={"roles": ["king"]}).status_code == 400
    own = admin.request("PATCH", "/api/v1/users/admin", json={"active": False})
    assert own.status_code == 409 and own.json()["error"]["details"][0]["code"] == "own_admin"

    assert admin.request("PATCH", "/api/v1/users/zhang", json={"active": False}).json()["active"] is False
    assert zhang.get("/api/v1/me").status_code == 401
    assert web.get("/inbox").status_code == 302
    assert try_login(server, "zhang", PASSWORD).status_code == 401
    admin.request("PATCH", "/api/v1/users/zhang", json={"active": True})
    assert zhang.get("/api/v1/me").status_code == 401  # the old token stays ended
    assert try_login(server, "zhang", PASSWORD).status_code == 200
    kinds = [(r.kind, r.data.get("username")) for r in audit(server) if r.kind == "user_changed"]
    assert len(kinds) == 3 and all(name == "zhang" for _, name in kinds)


def test_the_user_list_and_a_created_user_show_the_active_flag(server):
    admin = server.login("admin")
    assert admin.request("PATCH", "/api/v1/users/zhang", json={"active": False}).status_code == 200
    created = admin.post("/api/v1/users", {**NEW_USER, "password": STRONG})
    assert created.status_code == 201 and created.json()["active"] is True
    listed = {u["username"]: u["active"] for u in admin.get("/api/v1/users", params={"limit": 200}).json()["items"]}
    assert listed["zhang"] is False and listed["zhao"] is True and listed["li"] is True
    seen_by_supervisor = server.login("sup").get("/api/v1/users", params={"limit": 200}).json()["items"]
    assert all(isinstance(u["active"], bool) for u in seen_by_supervisor)
    spec = server.anonymous().get("/api/v1/openapi.json").json()
    page = spec["paths"]["/api/v1/users"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    items = spec["components"]["schemas"][page["$ref"].rsplit("/", 1)[-1]]["properties"]["items"]["items"]
    user = spec["components"]["schemas"][items["$ref"].rsplit("/", 1)[-1]]
    assert user["properties"]["active"]["type"] == "boolean" and "active" in user["required"]


def test_password_reset_and_own_change_end_the_other_sessions(server, wall):
    admin = server.login("admin")
    first, second, web = token_for(server, "li"), token_for(server, "li"), Web(server.app, "li")
    changed = first.post("/api/v1/me/password", {"current": PASSWORD, "new": STRONG})
    assert changed.status_code == 200, changed.text
    assert first.get("/api/v1/me").status_code == 200  # the caller's own token stays
    assert second.get("/api/v1/me").status_code == 401 and web.get("/inbox").status_code == 302
    wrong = first.post("/api/v1/me/password", {"current": "not-my-password", "new": STRONG + "x"})
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["code"] == "wrong_password"
    assert try_login(server, "li", PASSWORD).status_code == 401
    assert try_login(server, "li", STRONG).status_code == 200

    assert admin.post("/api/v1/users/li/password", {"password": "Fresh-granite-harbour"}).status_code == 200
    assert first.get("/api/v1/me").status_code == 401
    assert try_login(server, "li", "Fresh-granite-harbour").status_code == 200
    kinds = [r.kind for r in audit(server)]
    assert "password_changed" in kinds and "password_reset" in kinds
    assert STRONG not in repr([r.data for r in audit(server)])


def test_revoke_ends_the_callers_token_only(server, wall):
    one, two = token_for(server, "sec"), token_for(server, "sec")
    assert one.post("/api/v1/auth/revoke").status_code == 204
    assert one.get("/api/v1/me").status_code == 401 and two.get("/api/v1/me").status_code == 200


def test_departments_rename_deactivate_and_move(server):
    admin = server.login("admin")
    renamed = admin.request("PATCH", "/api/v1/departments/d1", json={"name": "发展改革委"})
    assert renamed.json() == {"code": "d1", "name": "发展改革委", "active": True, "parent": None, "depth": 1}
    assert admin.request("PATCH", "/api/v1/departments/d2", json={"active": False}).json()["active"] is False
    refused = admin.post("/api/v1/users", {**NEW_USER, "department": "d2", "password": STRONG})
    assert refused.status_code == 400 and refused.json()["error"]["details"][0]["code"] == "inactive_department"
    parent = admin.request("PATCH", "/api/v1/departments/d1", json={"parent": "office"})
    assert parent.status_code == 200 and parent.json()["parent"] == "office"  # (tests/test_department_tree.py)
    unknown = admin.post("/api/v1/departments", {"code": "d9", "name": "x", "parent": "nope"})
    assert unknown.status_code == 400 and unknown.json()["error"]["details"][0]["code"] == "unknown_department"
    assert admin.request("PATCH", "/api/v1/departments/nope", json={"name": "x"}).status_code == 404
    listed = {d["code"]: d for d in admin.get("/api/v1/departments").json()["items"]}
    assert listed["d1"]["name"] == "发展改革委" and listed["d2"]["active"] is False
    assert [r.kind for r in audit(server)].count("department_changed") == 3


# -- web sessions --------------------------------------------------------------------------------
def test_logging_out_ends_the_session_on_the_server(server):
    web = Web(server.app, "zhang")
    cookie = web.client.get_cookie("duban_session").value
    assert web.post("/logout").status_code == 302
    replay = server.app.test_client()
    replay.set_cookie("duban_session", cookie)
    assert replay.get("/inbox").status_code == 302  # the old cookie is worth nothing


def test_secure_cookies_setting(server):
    assert "Secure" not in _login_cookie(server.app)
    config = {**server.engine.config, "web": {**server.engine.config["web"], "secure_cookies": True}}
    assert "Secure" in _login_cookie(create_app(config=config, engine=server.engine))


def _login_cookie(app):
    web = Web(app)
    response = web.post("/login", {"username": "zhang", "password": PASSWORD})
    return response.headers["Set-Cookie"]


def test_change_password_page_and_admin_pages(server, wall):
    zhang = Web(server.app, "zhang")
    page = zhang.get("/password").text
    assert "修改密码" in page and "当前密码" in page
    weak = zhang.post("/password", {"current": PASSWORD, "new": "password123456", "repeat": "password123456"})
    assert "这是常见密码" in weak.text
    wrong = zhang.post("/password", {"current": "nope", "new": STRONG, "repeat": STRONG})
    assert "当前密码不正确" in wrong.text
    assert zhang.post("/password", {"current": PASSWORD, "new": STRONG, "repeat": STRONG}).status_code == 302
    assert zhang.get("/inbox").status_code == 200  # this session stays

    admin = Web(server.app, "admin")
    edit = admin.post("/admin/users/wang", {"display_name": "王五", "department": "d1", "roles": ["staff", "personnel"]},
                      token_from="/admin/users/wang")
    assert edit.status_code == 302
    assert re.search(r'姓名">王五</td>\s*<td data-label="部门">发展和改革委员会</td>\s*<td data-label="角色">人事、承办人员',
                     admin.get("/admin/users").text)
    own = admin.post("/admin/users/admin", {"display_name": "管理员", "roles": ["admin"]})  # unticked 在用
    assert own.status_code == 200 and "不能停用自己的账号" in own.text
    weak = admin.post("/admin/users/wang", {"action": "reset", "password": "wang-is-here-1"})
    assert "密码不能包含用户名" in weak.text
    assert admin.post("/admin/users/wang", {"action": "reset", "password": STRONG}).status_code == 302
    assert admin.post("/admin/departments/d2", {"name": "住建局"}).status_code == 302
    assert admin.post("/admin/departments/d2", {"action": "deactivate"}).status_code == 302
    departments = admin.get("/admin/departments").text
    assert re.search(r'data-department="d2"[^>]*>.*住建局.*停用', departments, re.S)

    for _ in range(10):
        wall.advance(seconds=120)
        try_login(server, "boss", "wrong-guess")
    users = admin.get("/admin/users").text
    assert 'data-lockout="boss"' in users
    assert admin.post("/admin/lockouts/lift", {"kind": "username", "key": "boss"}).status_code == 302
    assert 'data-lockout="boss"' not in admin.get("/admin/users").text
    assert try_login(server, "boss", PASSWORD).status_code == 200
