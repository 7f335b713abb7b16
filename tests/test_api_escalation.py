"""Deadlines over HTTP: lights, reminders, escalations, their handling, measures, notifications."""
import pytest
from sqlalchemy import select

from engine.models import Timer
from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM
from tests.test_api_loop import complete, inbox_task

# Tokens outlive the simulated weeks these tests cover.
LONG_TOKENS = {"auth": {"token_hours": 24 * 366}}
NATIONAL_DAY = {"clock": {"start": "2026-09-30T10:00:00+08:00"}, **LONG_TOKENS}


@pytest.fixture
def server(server_factory):
    return server_factory(**LONG_TOKENS)


def advance(server, to):
    response = server.login("admin").post("/api/v1/clock/advance", {"to": to})
    assert response.status_code == 200, response.text


def notifications(client, **params):
    response = client.get("/api/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def overdue_item(server, to="2026-11-25T18:00:01+08:00"):
    """An item whose plan is overdue (escalated), and its handle_escalation task."""
    item = server.login("sec").post("/api/v1/items", ITEM).json()
    advance(server, to)
    return item, inbox_task(server.login("sup"), "handle_escalation", item["id"])


@BOTH_DATABASES
def test_national_day_reminder_escalation_red_item_and_supervisor_inbox(server_factory):
    server = server_factory(**NATIONAL_DAY)
    sec, zhang, wang, sup = (server.login(u) for u in ("sec", "zhang", "wang", "sup"))
    item = sec.post("/api/v1/items", ITEM).json()
    assert inbox_task(zhang, "draft_plan", item["id"])["due_at"] == "2026-10-09T10:00:00+00:00"

    advance(server, "2026-10-09T09:00:01+08:00")
    mine = notifications(zhang)
    assert [(n["kind"], n["item_id"], n["read"]) for n in mine["items"]] == [
        ("reminder", item["id"], False), ("task_opened", item["id"], False)]  # and the handoff's
    assert "今日到期" in mine["items"][0]["title"] and mine["unread"] == 2
    assert notifications(wang)["total"] == 0 and notifications(sup)["total"] == 0

    advance(server, "2026-10-09T18:00:01+08:00")
    listed = sup.get("/api/v1/escalations", params={"state": "open"}).json()
    assert listed["total"] == 1
    escalation = listed["items"][0]
    assert {k: escalation[k] for k in ("item_id", "task_key", "department", "overdue_since", "level",
                                       "proposed_measure", "state")} == {
        "item_id": item["id"], "task_key": "draft_plan", "department": "d1",
        "overdue_since": "2026-10-09T10:00:00+00:00", "level": 1, "proposed_measure": "提醒约谈",
        "state": "open"}
    detail = sec.get(f"/api/v1/items/{item['id']}").json()
    assert detail["light"] == "red" and [e["id"] for e in detail["escalations"]] == [escalation["id"]]
    assert [i["id"] for i in sec.get("/api/v1/items", params={"light": "red"}).json()["items"]] == [item["id"]]
    handle = inbox_task(sup, "handle_escalation", item["id"])
    assert handle["candidate_role"] == "supervisor" and handle["id"] == escalation["handle_task_id"]
    assert [n["kind"] for n in notifications(sup)["items"]] == ["escalation"]
    assert handle["id"] in {t["id"] for t in server.login("sup2").get("/api/v1/tasks").json()["items"]}

    assert zhang.get("/api/v1/escalations").status_code == 403
    assert sec.get("/api/v1/escalations").status_code == 403
    assert server.login("boss").get("/api/v1/escalations").json()["total"] == 1  # the item's leader
    assert server.login("boss2").get("/api/v1/escalations").json()["total"] == 0


def test_lights_go_green_yellow_red_as_the_clock_advances(server):
    sec = server.login("sec")
    item = sec.post("/api/v1/items", ITEM).json()  # Mon 09:00; the plan is due Wed 18:00

    def lights():
        detail = sec.get(f"/api/v1/items/{item['id']}").json()
        return detail["light"], [t["light"] for t in detail["open_tasks"] if t["key"] == "draft_plan"]

    assert lights() == ("green", ["green"])
    advance(server, "2026-11-24T17:59:59+08:00")
    assert lights() == ("green", ["green"])
    advance(server, "2026-11-24T18:00:01+08:00")  # due within one working day
    assert lights() == ("yellow", ["yellow"])
    advance(server, "2026-11-25T18:00:01+08:00")
    assert lights() == ("red", ["red"])
    assert sec.get("/api/v1/items", params={"light": "yellow"}).json()["total"] == 0


@BOTH_DATABASES
def test_remind(server):
    item, handle = overdue_item(server)
    sup, zhang = server.login("sup"), server.login("zhang")
    response = sup.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": {"action": "remind", "comment": "今日办结"}})
    assert response.status_code == 200, response.text
    [escalation] = sup.get("/api/v1/escalations", params={"state": "handled"}).json()["items"]
    assert (escalation["action"], escalation["handled_by"], escalation["comment"]) == ("remind", "sup", "今日办结")
    kinds = [n["kind"] for n in notifications(zhang)["items"]]
    assert kinds[0] == "escalation_reminder" and "今日办结" in notifications(zhang)["items"][0]["body"]
    assert sup.post(f"/api/v1/tasks/{handle['id']}/complete",
                    {"data": {"action": "remind"}}).status_code == 409


def test_extend_moves_the_step_and_its_timers(server):
    item, handle = overdue_item(server)
    sup, sec = server.login("sup"), server.login("sec")
    response = sup.post(f"/api/v1/tasks/{handle['id']}/complete",
                        {"data": {"action": "extend", "new_due": "2026-11-30T18:00:00+08:00"}})
    assert response.status_code == 200, response.text
    draft = inbox_task(server.login("zhang"), "draft_plan", item["id"])
    assert (draft["due_at"], draft["light"]) == ("2026-11-30T10:00:00+00:00", "green")
    assert sec.get(f"/api/v1/items/{item['id']}").json()["light"] == "green"
    with server.engine.db.read() as session:
        waiting = session.execute(select(Timer.task_key, Timer.fire_at).where(
            Timer.instance_id == item["instance_id"], Timer.state == "waiting").order_by(Timer.fire_at)).all()
    assert [(k, f.isoformat()) for k, f in waiting] == [
        ("remind_plan", "2026-11-30T01:00:00+00:00"), ("escalate_plan", "2026-11-30T10:00:00+00:00")]
    [escalation] = sup.get("/api/v1/escalations").json()["items"]
    assert (escalation["action"], escalation["new_due"]) == ("extend", "2026-11-30T10:00:00+00:00")
    assert "deadline_extended" in [n["kind"] for n in notifications(server.login("li"))["items"]]


def test_reassign(server):
    item, handle = overdue_item(server)
    sup, zhang, li = (server.login(u) for u in ("sup", "zhang", "li"))
    response = sup.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": {"action": "reassign", "username": "li"}})
    assert response.status_code == 200, response.text
    draft = inbox_task(li, "draft_plan", item["id"])
    assert draft["assignee"] == "li"
    assert zhang.get("/api/v1/tasks", params={"item_id": item["id"]}).json()["items"] == []
    assert zhang.post(f"/api/v1/tasks/{draft['id']}/complete", {"data": {}}).status_code == 403
    assert notifications(li)["items"][0]["kind"] == "task_reassigned"
    [escalation] = sup.get("/api/v1/escalations").json()["items"]
    assert (escalation["action"], escalation["reassigned_to"]) == ("reassign", "li")


@BOTH_DATABASES
def test_accountability_records_the_proposed_measure(server):
    item, handle = overdue_item(server)
    sup, boss, sec = (server.login(u) for u in ("sup", "boss", "sec"))
    assert sup.get("/api/v1/measures").json()["total"] == 0  # proposed is not recorded
    response = sup.post(f"/api/v1/tasks/{handle['id']}/complete",
                        {"data": {"action": "accountability", "comment": "约谈主要负责人"}})
    assert response.status_code == 200, response.text
    measures = boss.get("/api/v1/measures", params={"department": "d1", "year": 2026}).json()
    assert measures["total"] == 1
    measure = measures["items"][0]
    assert {k: measure[k] for k in ("department", "year", "measure", "item_id", "recorded_by")} == {
        "department": "d1", "year": 2026, "measure": "提醒约谈", "item_id": item["id"], "recorded_by": "sup"}
    assert sec.get("/api/v1/measures", params={"year": 2027}).json()["total"] == 0
    assert server.login("zhang").get("/api/v1/measures").status_code == 403
    timeline = [r["kind"] for r in sec.get(f"/api/v1/items/{item['id']}").json()["timeline"]]
    assert "measure_recorded" in timeline and "escalation_opened" in timeline


def test_only_supervisors_handle_escalations(server):
    item, handle = overdue_item(server)
    for user in ("zhang", "boss", "sec"):  # the department, the leader, the secretariat
        response = server.login(user).post(f"/api/v1/tasks/{handle['id']}/complete",
                                           {"data": {"action": "accountability"}})
        assert response.status_code == 403, user
    sup, sup2 = server.login("sup"), server.login("sup2")
    assert sup.post(f"/api/v1/tasks/{handle['id']}/claim").status_code == 200
    response = sup2.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": {"action": "accountability"}})
    assert response.status_code == 403  # another supervisor's, once claimed
    assert sup.get("/api/v1/escalations").json()["items"][0]["state"] == "open"
    assert sup.get("/api/v1/measures").json()["total"] == 0


def test_bad_handling_is_400_and_changes_nothing(server):
    """(Every refused choice is covered through the engine in test_escalation.py.)"""
    item, handle = overdue_item(server)
    sup = server.login("sup")
    before = sup.get(f"/api/v1/items/{item['id']}").json()
    for data, field in (({"action": "extend"}, "new_due"),
                        ({"action": "extend", "new_due": "2026-11-20T18:00:00+08:00"}, "new_due"),
                        ({"action": "reassign", "username": "wang"}, "username"),
                        ({"action": "nag"}, "action")):
        response = sup.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": data})
        assert response.status_code == 400, response.text
        assert field in [d["field"] for d in response.json()["error"]["details"]]
    after = sup.get(f"/api/v1/items/{item['id']}").json()
    assert after["open_tasks"] == before["open_tasks"] and after["timeline"] == before["timeline"]
    assert after["escalations"] == before["escalations"]


def test_a_done_step_cannot_be_extended_or_reassigned(server):
    from tests.helpers import PLAN

    item, handle = overdue_item(server)
    complete(server.login("zhang"), "draft_plan", item["id"], PLAN)  # late, but done
    sup = server.login("sup")
    for data in ({"action": "extend", "new_due": "2026-12-01T18:00:00+08:00"},
                 {"action": "reassign", "username": "li"}):
        assert sup.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": data}).status_code == 409
    assert sup.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": {"action": "accountability"}}).status_code == 200


def test_notifications_are_the_callers_newest_first_and_can_be_read(server):
    item = server.login("sec").post("/api/v1/items", ITEM).json()
    advance(server, "2026-11-25T18:00:01+08:00")  # reminder, then escalation
    zhang, li = server.login("zhang"), server.login("li")
    [escalated] = notifications(server.login("sup"))["items"]  # the department by its name, not d1
    assert escalated["body"].startswith("发展和改革委员会 办理的「") and "2026-11-25 18:00 逾期" in escalated["body"]
    handle = inbox_task(server.login("sup"), "handle_escalation", item["id"])
    server.login("sup").post(f"/api/v1/tasks/{handle['id']}/complete", {"data": {"action": "remind"}})
    listed = notifications(zhang)
    assert [n["kind"] for n in listed["items"]] == ["escalation_reminder", "overdue", "reminder", "task_opened"]
    first = listed["items"][0]["id"]
    assert li.post(f"/api/v1/notifications/{first}/read").status_code == 404  # not li's
    read = zhang.post(f"/api/v1/notifications/{first}/read")
    assert read.status_code == 200 and read.json()["read"] is True
    assert zhang.post(f"/api/v1/notifications/{first}/read").json()["read_at"] == read.json()["read_at"]
    assert [n["kind"] for n in notifications(zhang, unread="true")["items"]] == ["overdue", "reminder", "task_opened"]
    assert notifications(zhang)["unread"] == 3 and notifications(li)["unread"] == 4
    assert zhang.post("/api/v1/notifications/999999/read").status_code == 404
