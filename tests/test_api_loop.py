"""The supervision loop driven only through HTTP by five people of different roles."""
from sqlalchemy import update

from api.models import User
from api.schemas import ItemPage
from tests.conftest import BOTH_DATABASES
from tests.helpers import DONE_REPORT, ITEM, PLAN, REPORT


def inbox_task(client, key, item_id):
    response = client.get("/api/v1/tasks", params={"item_id": item_id})
    assert response.status_code == 200, response.text
    tasks = [t for t in response.json()["items"] if t["key"] == key]
    assert tasks, f"no {key} in inbox: {response.json()}"
    return tasks[0]


def complete(client, key, item_id, data):
    task = inbox_task(client, key, item_id)
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", {"data": data})
    assert response.status_code == 200, response.text
    return response.json()


@BOTH_DATABASES
def test_loop_over_http(server):
    admin, sec, staff, leader, designer = (server.login(u) for u in ("admin", "sec", "zhang", "boss", "ada"))
    assert admin.get("/api/v1/me").json()["roles"] == ["admin"]
    assert designer.get("/api/v1/definitions").json()["total"] == 8  # incl. the DMN, rectification, monthly_report, referral, lookback

    created = sec.post("/api/v1/items", ITEM)
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["code"] == "DB-2026-0001" and item["status"] == "open"

    draft = inbox_task(staff, "draft_plan", item["id"])
    assert draft["due_at"] == "2026-11-25T10:00:00+00:00" and draft["light"] == "green"
    listed = sec.get("/api/v1/items").json()  # answered as presented, not dumped: exactly ItemPage's shape
    assert [i["open_tasks"][0]["id"] for i in listed["items"]] == [draft["id"]]
    assert listed == ItemPage().dump(listed)
    detail = staff.get(f"/api/v1/tasks/{draft['id']}").json()
    assert detail["form"]["required"] == ["owner", "milestones", "measures", "expected_result"]

    result = complete(staff, "draft_plan", item["id"], PLAN)
    assert [t["key"] for t in result["next_tasks"]] == ["approve_plan"]
    complete(leader, "approve_plan", item["id"], {"approved": False, "comment": "细化措施"})
    complete(staff, "draft_plan", item["id"], PLAN)
    complete(leader, "approve_plan", item["id"], {"approved": True})
    complete(sec, "file_plan", item["id"], {"note": "备案"})
    complete(staff, "report_progress", item["id"], REPORT)
    complete(staff, "report_progress", item["id"], DONE_REPORT)
    complete(sec, "recheck", item["id"], {"passed": False, "findings": "未完成整改"})
    complete(staff, "report_progress", item["id"], DONE_REPORT)
    complete(sec, "recheck", item["id"], {"passed": True, "findings": "属实"})
    complete(leader, "confirm_close", item["id"], {"rating": "excellent"})

    body = sec.get(f"/api/v1/items/{item['id']}").json()
    assert body["status"] == "closed" and body["rating"] == "excellent" and body["open_tasks"] == []
    assert [p["state"] for p in body["plans"]] == ["returned", "filed"]
    assert body["plan"]["state"] == "filed"
    assert [r["progress"] for r in body["reports"]] == [40, 100, 100]
    kinds = [r["kind"] for r in body["timeline"]]
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
    assert kinds.count("task_completed") == 11

    instance = admin.get(f"/api/v1/instances/{item['instance_id']}").json()
    assert instance["status"] == "completed" and instance["definition"] == "supervision"
    assert admin.get("/api/v1/audit/verify").json()["ok"] is True
    audit = admin.get("/api/v1/audit", params={"item_id": item["id"], "limit": 500}).json()
    assert audit["total"] == len(body["timeline"])


@BOTH_DATABASES
def test_plan_change_takes_effect_when_the_leader_approves(server):
    sec, staff, leader = (server.login(u) for u in ("sec", "zhang", "boss"))
    item = sec.post("/api/v1/items", ITEM).json()
    complete(staff, "draft_plan", item["id"], PLAN)
    complete(leader, "approve_plan", item["id"], {"approved": True})
    change = {"reason": "上级要求提前", "milestones": [{"date": "2026-12-10", "target": "提前完成"}]}
    response = staff.post(f"/api/v1/items/{item['id']}/plan-change", change)
    assert response.status_code == 202, response.text
    assert sec.get(f"/api/v1/items/{item['id']}").json()["plan"]["state"] == "approved"

    complete(leader, "approve_plan_change", item["id"], {"approved": True, "comment": "同意"})
    plan = sec.get(f"/api/v1/items/{item['id']}").json()["plan"]
    assert plan["state"] == "changed" and plan["milestones"] == change["milestones"]


def test_claim_unclaim_assign_and_comments(server):
    sec, zhang, li, sup = (server.login(u) for u in ("sec", "zhang", "li", "sup"))
    item = sec.post("/api/v1/items", ITEM).json()
    task = inbox_task(zhang, "draft_plan", item["id"])
    assert inbox_task(li, "draft_plan", item["id"])["id"] == task["id"]

    claimed = zhang.post(f"/api/v1/tasks/{task['id']}/claim")
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "zhang"
    assert li.get("/api/v1/tasks", params={"item_id": item["id"]}).json()["items"] == []
    assert li.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 403
    assert li.post(f"/api/v1/tasks/{task['id']}/complete", {"data": PLAN}).status_code == 403

    assert zhang.post(f"/api/v1/tasks/{task['id']}/unclaim").json()["assignee"] is None
    assigned = sup.post(f"/api/v1/tasks/{task['id']}/assign", {"username": "li"})
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "li"
    assert zhang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": PLAN}).status_code == 403

    comment = li.post(f"/api/v1/tasks/{task['id']}/comments", {"body": "本周内提交"})
    assert comment.status_code == 201
    listed = sup.get(f"/api/v1/tasks/{task['id']}/comments").json()
    assert [c["body"] for c in listed["items"]] == ["本周内提交"]
    assert li.post(f"/api/v1/tasks/{task['id']}/complete", {"data": PLAN}).status_code == 200


def test_login_me_and_revoke(server):
    anonymous = server.anonymous()
    assert anonymous.post("/api/v1/auth/token", {"username": "zhang", "password": "wrong"}).status_code == 401
    assert anonymous.post("/api/v1/auth/token", {"username": "nobody", "password": "x"}).status_code == 401
    assert anonymous.get("/api/v1/me").status_code == 401
    client = server.login("zhang")
    me = client.get("/api/v1/me").json()
    assert me == {"username": "zhang", "display_name": "发改委张三", "department": "d1", "roles": ["staff"]}
    assert client.post("/api/v1/auth/revoke").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_a_deactivated_users_token_is_refused(server):
    client = server.login("zhang")
    assert client.get("/api/v1/me").status_code == 200
    with server.engine.db.write() as session:
        session.execute(update(User).where(User.username == "zhang").values(active=False))
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_token_expires_on_wall_time_not_the_business_clock(server):
    from api.runtime import WALL_CLOCK
    from tests.test_accounts import WallClock

    wall = server.app.extensions[WALL_CLOCK] = WallClock()
    client = server.login("zhang")
    server.engine.clock.advance(seconds=13 * 3600)
    assert client.get("/api/v1/me").status_code == 200
    wall.advance(hours=13)
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
