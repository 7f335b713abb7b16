"""The leader's cockpit (驾驶舱, issue 17 item 8): ``GET /api/v1/cockpit``'s figures after a return and
a cancellation under the simulated clock, each reader's scope, 403 for staff, and a number of SQL
statements that does not grow with the number of items."""
import pytest
from sqlalchemy import event

from api import cockpit as api_cockpit
from engine.actor import Actor
from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM, PLAN
from tests.test_api_loop import complete

LONG_TOKENS = {"auth": {"token_hours": 24 * 30}}


@pytest.fixture
def server(server_factory):
    return server_factory(**LONG_TOKENS)


def figures(client):
    response = client.get("/api/v1/cockpit")
    assert response.status_code == 200, response.text
    return response.json()


def lights(counts):
    return {light: counts[light] for light in ("green", "yellow", "red", "total")}


@BOTH_DATABASES
def test_figures_after_a_return_and_a_cancellation(server):
    sec, zhang, boss, boss2 = (server.login(name) for name in ("sec", "zhang", "boss", "boss2"))
    returned, cancelled, plain = (sec.post("/api/v1/items", {**ITEM, "title": title}).json()
                                  for title in ("推进一网通办", "老旧小区改造", "营商环境评估"))
    other = sec.post("/api/v1/items", {**ITEM, "leader": "boss2", "department": "d2", "co_departments": []}).json()
    sec.post("/api/v1/problems", {"title": "审计发现的问题", "source": "audit", "department": "d1",
                                  "deadline": "2026-12-31"})
    start = figures(sec)
    assert start["scope"] == "all" and lights(start["items"]) == {"green": 4, "yellow": 0, "red": 0, "total": 4}
    assert start["problems"]["total"] == 1
    assert start["overdue_by_department"] == [] and start["due_this_week"]["total"] == 4  # the 4 plans (the hand-over has no due time)

    complete(zhang, "draft_plan", returned["id"], PLAN)
    complete(boss, "approve_plan", returned["id"], {"approved": False, "comment": "措施不具体"})
    assert sec.post(f"/api/v1/items/{cancelled['id']}/cancel", {"reason": "会议决定不再督办"}).status_code == 200
    now = figures(sec)
    assert lights(now["items"]) == {"green": 3, "yellow": 0, "red": 0, "total": 3}
    codes = [step["code"] for step in now["due_this_week"]["steps"]]
    assert cancelled["code"] not in codes and returned["code"] in codes
    assert now["trend"]["weeks"][-1] == {"week": "2026-W48", "start": "2026-11-23", "registered": 4, "closed": 0}
    assert len(now["trend"]["weeks"]) == 12

    leader = figures(boss)  # a leader: the items he is in charge of (and his department's: none)
    assert leader["scope"] == "own" and leader["items"]["total"] == 2
    assert figures(boss2)["items"]["total"] == 1

    # Wednesday 18:00 passes: the three open plans (the returned one too) are overdue.
    assert server.login("admin").post("/api/v1/clock/advance", {"to": "2026-11-25T18:00:01+08:00"}).status_code == 200
    late = figures(sec)
    assert lights(late["items"]) == {"green": 0, "yellow": 0, "red": 3, "total": 3}
    assert [(row["department"], row["name"], row["overdue_steps"]) for row in late["overdue_by_department"]][:2] == [
        ("d1", "发展和改革委员会", 2), ("d2", "住房和城乡建设局", 1)]
    assert late["due_this_week"]["red"] >= 3
    assert figures(boss)["overdue_by_department"] == [
        {"department": "d1", "name": "发展和改革委员会", "overdue_steps": 2, "records": 2}]
    ranking = late["ranking"]
    assert ranking["month"] == "2026-11" and {row["department"] for row in ranking["top"]} <= {"d1", "d2"}
    assert plain["code"] and other["code"]


@BOTH_DATABASES
def test_staff_and_designers_get_403_and_nothing_changes(server):
    for name in ("zhang", "ada"):
        response = server.login(name).get("/api/v1/cockpit")
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert server.anonymous().get("/api/v1/cockpit").status_code == 401


def test_the_number_of_statements_does_not_grow_with_the_items(server):
    """Aggregates only: the cockpit runs as many statements over 2 items as over 8."""
    sec = server.login("sec")
    actor = Actor("sec", frozenset({"secretariat"}), "office")

    def statements():
        count = [0]

        def seen(*_):
            count[0] += 1
        db = server.engine.db.engine
        server.engine.registry.directory._entries.clear()  # both counts from a cold directory cache (1 s)
        event.listen(db, "before_cursor_execute", seen)
        try:
            with server.app.app_context():
                api_cockpit.read(actor)
        finally:
            event.remove(db, "before_cursor_execute", seen)
        return count[0]

    for _ in range(2):
        sec.post("/api/v1/items", ITEM)
    few = statements()
    for _ in range(6):
        sec.post("/api/v1/items", ITEM)
    assert statements() == few


def test_the_page_shows_the_figures_to_its_readers_only(server):
    from tests.test_web_pages import Web

    sec = server.login("sec")
    item = sec.post("/api/v1/items", ITEM).json()
    sec.post("/api/v1/items", {**ITEM, "leader": "boss2"})
    page = Web(server.app, "sec").get("/cockpit")
    assert page.status_code == 200
    for text in ("驾驶舱", "在办事项与问题预警", "各部门逾期环节", "本周到期环节（2026年第48周）", "近 12 周立项与办结",
                 item["code"], "2026-11-25 18:00", "当前没有逾期环节"):
        assert text in page.text, text
    assert '<a href="/cockpit" class="active"' in page.text
    assert "我分管的事项" in Web(server.app, "boss").get("/cockpit").text
    for name in ("zhang", "ada"):
        refused = Web(server.app, name).get("/cockpit")
        assert refused.status_code == 403 and "您没有访问此页面的权限" in refused.text
        assert "/cockpit" not in Web(server.app, name).get("/inbox").text  # nor in the navigation
