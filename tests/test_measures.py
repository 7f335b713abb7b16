"""一案双查: the measure catalogue, choosing a measure, a referral to 纪检, talks, the year's scores."""
import pytest
from werkzeug.security import generate_password_hash

from api.models import User
from tests.api_client import PASSWORD
from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM
from tests.test_api_loop import inbox_task

LONG_TOKENS = {"auth": {"token_hours": 24 * 366}}


@pytest.fixture
def server(server_factory):
    running = server_factory(**LONG_TOKENS)
    add_user(running, "jijian", "纪检组吴强", "office", ["discipline"])
    add_user(running, "renshi", "人事科郑洁", "office", ["personnel"])
    return running


def add_user(server, username, name, department, roles):
    with server.engine.db.write() as session:
        session.add(User(username=username, display_name=name, department=department, roles=roles,
                         password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
                         created_at=server.engine.clock.now()))


def escalated(server):
    """An item whose plan (claimed by zhang) fell overdue: the item and its handle_escalation task."""
    item = server.login("sec").post("/api/v1/items", ITEM).json()
    zhang = server.login("zhang")
    assert zhang.post(f"/api/v1/tasks/{inbox_task(zhang, 'draft_plan', item['id'])['id']}/claim").status_code == 200
    response = server.login("admin").post("/api/v1/clock/advance", {"to": "2026-11-25T18:00:01+08:00"})
    assert response.status_code == 200, response.text
    return item, inbox_task(server.login("sup"), "handle_escalation", item["id"])


def handle(server, task, **data):
    return server.login("sup").post(f"/api/v1/tasks/{task['id']}/complete",
                                    {"data": {"action": "accountability", **data}})


def test_the_catalogue_is_seeded_and_the_secretariat_edits_it(server):
    sec = server.login("sec")
    kinds = sec.get("/api/v1/measure-kinds").json()["items"]
    assert [k["name"] for k in kinds] == ["提醒约谈", "公开检讨", "诫勉谈话", "通报批评", "考核扣分", "取消评先",
                                          "问责建议", "组织调整建议"]
    referrals = {k["name"]: k["referral"] for k in kinds if k["referral"]}
    assert referrals == {"问责建议": "discipline", "组织调整建议": "personnel"}
    created = sec.post("/api/v1/measure-kinds", {"code": "written_review", "name": "书面检查", "points": 1,
                                                 "answerable": "owner"})
    assert created.status_code == 201, created.text
    assert created.json()["position"] == 90 and created.json()["active"] is True
    changed = sec.patch("/api/v1/measure-kinds/deduction", {"points": 4, "active": False})
    assert (changed.json()["points"], changed.json()["active"]) == (4, False)
    assert sec.post("/api/v1/measure-kinds", {"code": "written_review", "name": "另一个", "points": 1}).status_code == 409
    for body, field in (({"code": "Bad Code", "name": "甲", "points": 1}, "code"),
                        ({"code": "other_one", "name": "书面检查", "points": 1}, "name"),
                        ({"code": "other_two", "name": "乙", "points": -1}, "points"),
                        ({"code": "other_three", "name": "丙", "points": 1, "referral": "police"}, "referral")):
        response = sec.post("/api/v1/measure-kinds", body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.text
    assert sec.patch("/api/v1/measure-kinds/nope", {"points": 1}).status_code == 404
    assert len(sec.get("/api/v1/measure-kinds").json()["items"]) == 9
    for user in ("zhang", "sup"):  # staff may not read; supervisors read but do not edit
        assert server.login(user).post("/api/v1/measure-kinds",
                                       {"code": "x_y", "name": "丁", "points": 1}).status_code == 403
    assert server.login("zhang").get("/api/v1/measure-kinds").status_code == 403
    assert server.login("zhang").get("/api/v1/measures").status_code == 403


@BOTH_DATABASES
def test_a_referral_to_discipline_opens_a_task_and_its_result_shows_in_the_year(server):
    item, task = escalated(server)
    sup, jijian, sec = server.login("sup"), server.login("jijian"), server.login("sec")
    assert task["id"]
    before = sup.get(f"/api/v1/items/{item['id']}").json()

    refused = handle(server, task, measure="discipline_referral")  # not the proposal (提醒约谈), no reason
    assert refused.status_code == 400
    assert [d["code"] for d in refused.json()["error"]["details"]] == ["reason_required"]
    unknown = handle(server, task, measure="nope", reason="x")
    assert [d["code"] for d in unknown.json()["error"]["details"]] == ["unknown_measure"]
    after = sup.get(f"/api/v1/items/{item['id']}").json()
    assert after["timeline"] == before["timeline"] and sup.get("/api/v1/measures").json()["total"] == 0

    done = handle(server, task, measure="discipline_referral", reason="多次逾期，情节较重")
    assert done.status_code == 200, done.text
    [measure] = sec.get("/api/v1/measures", params={"year": 2026}).json()["items"]
    assert {k: measure[k] for k in ("measure", "kind", "points", "proposed", "reason", "referral", "people")} == {
        "measure": "问责建议", "kind": "discipline_referral", "points": 5, "proposed": "提醒约谈",
        "reason": "多次逾期，情节较重", "referral": "discipline",
        "people": [{"who": "zhang", "as": "owner"}, {"who": "boss", "as": "leader"}]}

    [referral] = [t for t in jijian.get("/api/v1/tasks").json()["items"] if t["key"] == "decide_referral"]
    assert referral["candidate_role"] == "discipline"
    assert not [t for t in server.login("renshi").get("/api/v1/tasks").json()["items"]
                if t["key"] == "decide_referral"]
    assert server.login("zhang").post(f"/api/v1/tasks/{referral['id']}/complete",
                                      {"data": {"result": "filed"}}).status_code == 403
    decided = jijian.post(f"/api/v1/tasks/{referral['id']}/complete",
                          {"data": {"result": "filed", "note": "已立案审查"}})
    assert decided.status_code == 200, decided.text
    [measure] = jijian.get("/api/v1/measures").json()["items"]
    assert (measure["referral_result"], measure["referral_note"], measure["referral_by"]) == (
        "filed", "已立案审查", "jijian")

    year = sec.get("/api/v1/reports/year", params={"year": 2026}).json()
    d1 = next(r for r in year["departments"] if r["department"] == "d1")
    assert (d1["measures"], d1["points_deducted"], d1["score"]) == (1, 5, 95)
    d2 = next(r for r in year["departments"] if r["department"] == "d2")
    assert (d2["points_deducted"], d2["score"]) == (0, 100)
    assert year["people"] == [{"person": "boss", "department": "d1", "points": 5, "measures": 1},
                              {"person": "zhang", "department": "d1", "points": 5, "measures": 1}]
    assert [(m["measure"], m["referral_result"]) for m in year["measures"]] == [("问责建议", "filed")]


def test_the_proposal_needs_no_reason_and_a_talk_gets_its_record(server):
    item, task = escalated(server)
    assert handle(server, task, measure="reminder_talk").status_code == 200  # the proposal, by code
    sup = server.login("sup")
    [measure] = sup.get("/api/v1/measures").json()["items"]
    assert (measure["kind"], measure["points"], measure["referral"], measure["people"]) == (
        "reminder_talk", 0, None, [{"who": "zhang", "as": "owner"}])
    record = {"at": "2026-11-27T10:00:00+08:00", "interviewees": "发改委张三", "interviewer": "督查员孙",
              "minutes": "说明逾期原因，承诺本周内报送计划。"}
    response = sup.post(f"/api/v1/measures/{measure['id']}/interview", record)
    assert response.status_code == 200, response.text
    assert response.json()["interview"]["interviewees"] == "发改委张三"
    assert response.json()["interview"]["by"] == "sup"
    assert sup.post(f"/api/v1/measures/{measure['id']}/interview", {**record, "minutes": ""}).status_code == 400
    assert sup.post("/api/v1/measures/999999/interview", record).status_code == 404
    assert server.login("zhang").post(f"/api/v1/measures/{measure['id']}/interview", record).status_code == 403
    assert server.login("boss").post(f"/api/v1/measures/{measure['id']}/interview", record).status_code == 403


def test_a_talk_record_needs_a_talk(server):
    item, task = escalated(server)
    assert handle(server, task, measure="circular", reason="影响较大").status_code == 200
    sup = server.login("sup")
    [measure] = sup.get("/api/v1/measures").json()["items"]
    assert measure["people"] == []  # 通报批评 names the department only
    response = sup.post(f"/api/v1/measures/{measure['id']}/interview", {
        "at": "2026-11-27T10:00:00+08:00", "interviewees": "甲", "interviewer": "乙", "minutes": "丙"})
    assert response.status_code == 409
    assert [d["code"] for d in response.json()["error"]["details"]] == ["no_interview"]
