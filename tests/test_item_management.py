"""Managing items (issue 17, item 7): cancel, edit the notice, change the lead department, send
back — over HTTP, on both databases, with their refusals."""
from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM, PLAN
from tests.test_api_escalation import notifications
from tests.test_api_loop import inbox_task


def _item(sec, **changes):
    response = sec.post("/api/v1/items", {**ITEM, "co_departments": [], **changes})
    assert response.status_code == 201, response.text
    return response.json()


def _detail(client, item):
    return client.get(f"/api/v1/items/{item['id']}").json()


def _tasks(client, item):
    return client.get("/api/v1/tasks", params={"item_id": item["id"]}).json()["items"]


@BOTH_DATABASES
def test_cancel_ends_the_item_and_its_tasks(server):
    sec, zhang = server.login("sec"), server.login("zhang")
    item = _item(sec)
    assert [t["key"] for t in _tasks(zhang, item)] == ["draft_plan"]
    assert zhang.post(f"/api/v1/items/{item['id']}/cancel", {"reason": "不再需要"}).status_code == 403
    assert sec.post(f"/api/v1/items/{item['id']}/cancel", {"reason": ""}).status_code == 400
    assert _detail(sec, item)["status"] == "open"  # refused: nothing changed

    response = sec.post(f"/api/v1/items/{item['id']}/cancel", {"reason": "会议决定不再督办"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    detail = _detail(sec, item)
    assert detail["status"] == "cancelled" and detail["open_tasks"] == []
    assert _tasks(zhang, item) == []
    [record] = [r for r in detail["timeline"] if r["kind"] == "instance_cancelled"]
    assert (record["actor"], record["data"]["reason"]) == ("sec", "会议决定不再督办")
    open_ids = [i["id"] for i in sec.get("/api/v1/items", params={"status": "open"}).json()["items"]]
    assert item["id"] not in open_ids
    # a cancelled item is managed no more
    assert sec.request("PATCH", f"/api/v1/items/{item['id']}", json={"title": "新"}).status_code == 409
    assert sec.post(f"/api/v1/items/{item['id']}/cancel", {"reason": "again"}).status_code == 409


@BOTH_DATABASES
def test_edit_the_notice_is_audited_with_old_and_new_values(server):
    sec, boss = server.login("sec"), server.login("boss")
    item = _item(sec)
    url = f"/api/v1/items/{item['id']}"
    assert boss.request("PATCH", url, json={"title": "新标题"}).status_code == 403
    past = sec.request("PATCH", url, json={"title": "新标题", "deadline": "2026-11-01"})
    assert past.status_code == 400 and past.json()["error"]["details"][0]["code"] == "in_the_past"
    assert sec.request("PATCH", url, json={"leader": "zhang"}).status_code == 400
    assert _detail(sec, item)["title"] == ITEM["title"]  # refused: nothing changed

    response = sec.request("PATCH", url, json={"title": "新标题", "deadline": "2027-01-15",
                                               "leader": "boss2", "doc_number": "府督〔2026〕3号"})
    assert response.status_code == 200, response.text
    assert response.json()["changes"] == {"title": [ITEM["title"], "新标题"], "deadline": ["2026-12-31", "2027-01-15"],
                                          "leader": ["boss", "boss2"], "doc_number": [None, "府督〔2026〕3号"]}
    detail = _detail(sec, item)
    assert (detail["title"], detail["deadline"], detail["leader"], detail["doc_number"]) == (
        "新标题", "2027-01-15", "boss2", "府督〔2026〕3号")
    [record] = [r for r in detail["timeline"] if r["kind"] == "item_amended"]
    assert record["actor"] == "sec" and record["data"]["changes"]["title"] == [ITEM["title"], "新标题"]
    # the new leader decides the plan: the routing follows the instance's data
    zhang = server.login("zhang")
    draft = inbox_task(zhang, "draft_plan", item["id"])
    assert zhang.post(f"/api/v1/tasks/{draft['id']}/complete", {"data": PLAN}).status_code == 200
    assert inbox_task(server.login("boss2"), "approve_plan", item["id"])["assignee"] == "boss2"
    # the plan is drafted: too late to send the item back
    late = zhang.post(f"/api/v1/items/{item['id']}/send-back", {"reason": "不是我们的"})
    assert late.status_code == 409 and late.json()["error"]["details"][0]["code"] == "not_drafting"


@BOTH_DATABASES
def test_send_back_then_change_the_lead_department_moves_the_open_step(server):
    sec, zhang, wang = server.login("sec"), server.login("zhang"), server.login("wang")
    item = _item(sec)
    assert _detail(sec, item)["doc_number"] == f"督办〔2026〕{int(item['code'].split('-')[-1])}号"
    back = f"/api/v1/items/{item['id']}/send-back"
    assert sec.post(back, {"reason": "不是我们的"}).status_code == 403
    response = zhang.post(back, {"reason": "属住建局职责"})
    assert response.status_code == 200, response.text
    notice = notifications(sec)["items"][0]
    assert (notice["kind"], notice["body"]) == (
        "item_sent_back", "发展和改革委员会 退回「推进政务服务一网通办」，请重新交办。理由：属住建局职责")
    assert [r["kind"] for r in _detail(sec, item)["timeline"]].count("item_sent_back") == 1

    move = f"/api/v1/items/{item['id']}/department"
    assert zhang.post(move, {"department": "d2"}).status_code == 403
    unknown = sec.post(move, {"department": "nope"})
    assert unknown.status_code == 400 and unknown.json()["error"]["details"][0]["code"] == "unknown_department"
    response = sec.post(move, {"department": "d2"})
    assert response.status_code == 200, response.text
    assert response.json()["changes"] == {"department": ["d1", "d2"]}
    assert _tasks(zhang, item) == []
    [draft] = _tasks(wang, item)
    assert (draft["key"], draft["candidate_department"]) == ("draft_plan", "d2")
    assert _detail(wang, item)["department"] == "d2"
    assert item["id"] in [i["id"] for i in wang.get("/api/v1/items").json()["items"]]
    assert zhang.get(f"/api/v1/items/{item['id']}").status_code == 403
