"""Issue 13, accounts: tokens and web sessions on wall time, the login throttle, and the
accounts API (deactivate, reset, change one's own password, roles, departments).

Wall time is a fake clock the tests move (``app.extensions[api.runtime.WALL_CLOCK]``): no
sleeping. The business clock is the simulated one of the test configuration.
"""
import datetime as dt
import re

import pytest
from sqlalchemy import select

from api import passwords
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
    assert [(x["kind"], x["key"], x["failures"]) for x in lockouts] == [("username", "zhang", 10)]
    assert admin.post("/api/v1/auth/lockouts/lift", {"kind": "username", "key": "zhang"}).status_code == 200
    assert admin.post("/api/v1/auth/lockouts/lift", {"kind": "username", "key": "zhang"}).status_code == 404
    assert try_login(server, "zhang", PASSWORD).status_code == 200
    kinds = [r.kind for r in audit(server) if r.kind in ("login_failed", "login_lockout_lifted")]
    assert kinds.count("login_failed") == 10 and kinds[-1] == "login_lockout_lifted"


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


def audit(server):
    with server.engine.db.read() as session:
        return session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
