"""Rectification with teeth (issue 15, items 1-2), over HTTP with the simulated clock: a late
plan is reminded and escalated like an item's step (the ladder counts both), the supervisor
handles it, the ranking counts it; the plan is reviewed (审定) and 整改时限 binds it."""
import re

import pytest
from sqlalchemy import select

from engine.models import AuditRecord, Timer
from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM, snapshot
from tests.test_api_escalation import LONG_TOKENS, advance, notifications
from tests.test_api_rectification import PROBLEM, complete, inbox_task
from tests.test_web_pages import Web

PLAN = {"cause_analysis": "制度未落实到岗", "goal": "进货查验全覆盖", "measures": "建立进货查验台账，专人负责",
        "owner": "zhang", "deadline": "2026-12-12",
        "milestones": [{"date": "2026-12-05", "target": "台账建立"}]}


@pytest.fixture
def server(server_factory):
    return server_factory(**LONG_TOKENS)


def handed_over(server, at=None):
    """A problem of d1 handed over (at ``at``, if given): its plan is due 2 working days later."""
    sec = server.login("sec")
    problem = sec.post("/api/v1/problems", PROBLEM).json()
    if at:
        advance(server, at)
    complete(sec, "hand_over", problem["id"], {"requirements": "限期整改"})
    return problem["id"]


def escalations(client, **params):
    response = client.get("/api/v1/escalations", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@BOTH_DATABASES
def test_a_late_plan_is_reminded_escalated_on_the_ladder_handled_and_ranked(server):
    sec, zhang, sup = (server.login(u) for u in ("sec", "zhang", "sup"))
    item = sec.post("/api/v1/items", ITEM).json()  # Mon 09:00: its plan is due Wed 18:00
    pid = handed_over(server, at="2026-11-24T10:00:00+08:00")  # Tue: the plan is due Thu 18:00
    assert inbox_task(zhang, "submit_rectification_plan", pid)["due_at"] == "2026-11-26T10:00:00+00:00"

    advance(server, "2026-11-25T18:00:01+08:00")  # the item's plan escalates first: rung 1
    advance(server, "2026-11-26T09:00:01+08:00")  # the day the problem's plan is due: 催办
    [reminder] = [n for n in notifications(zhang)["items"] if n["kind"] == "reminder" and n["item_id"] == pid]
    assert reminder["title"] == "催办：ZG-2026-0001「提交整改方案」今日到期"
    assert "整改问题「" in reminder["body"]
    assert [e["item_id"] for e in escalations(sup, state="open")] == [item["id"]]

    advance(server, "2026-11-26T18:00:01+08:00")  # due: escalated, rung 2 of d1's year
    first, second = escalations(sup, state="open")
    assert (first["item_id"], first["problem_id"], first["level"]) == (item["id"], None, 1)
    assert {k: second[k] for k in ("item_id", "problem_id", "task_key", "department", "overdue_since",
                                   "level", "proposed_measure", "state")} == {
        "item_id": None, "problem_id": pid, "task_key": "submit_rectification_plan", "department": "d1",
        "overdue_since": "2026-11-26T10:00:00+00:00", "level": 2, "proposed_measure": "通报批评", "state": "open"}
    assert [e["id"] for e in escalations(sup, problem_id=pid)] == [second["id"]]
    assert server.login("boss").get("/api/v1/escalations").json()["total"] == 1  # a problem has no leader
    handle = inbox_task(sup, "handle_escalation", pid)
    assert handle["id"] == second["handle_task_id"] and handle["candidate_role"] == "supervisor"
    assert any(n["kind"] == "escalation" and "ZG-2026-0001" in n["title"] for n in notifications(sup)["items"])
    assert any(n["kind"] == "overdue" and n["item_id"] == pid for n in notifications(zhang)["items"])
    assert sec.get(f"/api/v1/problems/{pid}").json()["light"] == "red"

    desk = Web(server.app, "sup").get("/escalations").text  # the desk: the problem's code, linked
    assert f'href="/problems/{pid}">ZG-2026-0001</a>' in desk and "整改问题" in desk

    response = sup.post(f"/api/v1/tasks/{handle['id']}/complete",
                        {"data": {"action": "extend", "new_due": "2026-11-30T18:00:00+08:00"}})
    assert response.status_code == 200, response.text
    plan = inbox_task(zhang, "submit_rectification_plan", pid)
    assert (plan["due_at"], plan["light"]) == ("2026-11-30T10:00:00+00:00", "green")
    instance_id = sec.get(f"/api/v1/problems/{pid}").json()["instance_id"]
    with server.engine.db.read() as session:
        waiting = session.execute(select(Timer.task_key, Timer.fire_at).where(
            Timer.instance_id == instance_id, Timer.state == "waiting").order_by(Timer.fire_at)).all()
    assert [(k, f.isoformat()) for k, f in waiting] == [
        ("remind_plan", "2026-11-30T01:00:00+00:00"), ("escalate_plan", "2026-11-30T10:00:00+00:00")]
    [handled] = escalations(sup, state="handled")
    assert (handled["problem_id"], handled["action"]) == (pid, "extend")
    assert "deadline_extended" in [n["kind"] for n in notifications(zhang)["items"]]

    ranking = sec.get("/api/v1/reports/ranking", params={"month": "2026-11"}).json()
    [d1] = [row for row in ranking["departments"] if row["department"] == "d1"]
    assert d1["escalations"] == 2  # the item's and the problem's


@BOTH_DATABASES
def test_accountability_on_a_problem_records_its_measure(server):
    pid = handed_over(server)
    advance(server, "2026-11-25T18:00:01+08:00")
    sup = server.login("sup")
    handle = inbox_task(sup, "handle_escalation", pid)
    response = sup.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": {"action": "accountability"}})
    assert response.status_code == 200, response.text
    [measure] = sup.get("/api/v1/measures").json()["items"]
    assert (measure["item_id"], measure["problem_id"], measure["measure"]) == (None, pid, "提醒约谈")


def test_a_late_report_escalates_too(server):
    pid = handed_over(server)
    sec, zhang, sup = (server.login(u) for u in ("sec", "zhang", "sup"))
    complete(zhang, "submit_rectification_plan", pid, PLAN)
    complete(sec, "review_rectification_plan", pid, {"approved": True})
    assert inbox_task(zhang, "submit_rectification_report", pid)["due_at"] == "2026-12-14T10:00:00+00:00"
    advance(server, "2026-12-14T18:00:01+08:00")
    [escalation] = escalations(sup, state="open")
    assert (escalation["problem_id"], escalation["task_key"], escalation["level"]) == (
        pid, "submit_rectification_report", 1)
    kinds = [n["kind"] for n in notifications(zhang)["items"] if n["item_id"] == pid]
    assert "reminder" in kinds and "overdue" in kinds
    handle = inbox_task(sup, "handle_escalation", pid)
    response = sup.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": {"action": "remind", "comment": "本周内报告"}})
    assert response.status_code == 200, response.text
    [told] = [n for n in notifications(zhang)["items"] if n["kind"] == "escalation_reminder"]
    assert told["title"] == "督办催办：ZG-2026-0001「提交整改报告」已逾期" and "本周内报告" in told["body"]
    handled = Web(server.app, "sup").get("/escalations?state=handled").text
    assert f'href="/problems/{pid}">ZG-2026-0001</a>' in handled


@BOTH_DATABASES
def test_the_plan_is_reviewed_returned_with_a_reason_then_approved_extending_the_deadline(server):
    pid = handed_over(server)
    sec, zhang = server.login("sec"), server.login("zhang")
    assert zhang.get("/api/v1/tasks", params={"item_id": pid}).json()["items"][0]["key"] == "submit_rectification_plan"
    complete(zhang, "submit_rectification_plan", pid, PLAN)
    review = inbox_task(sec, "review_rectification_plan", pid)
    assert review["lane"] == "督查室" and review["candidate_role"] == "secretariat"
    body = sec.get(f"/api/v1/problems/{pid}").json()
    assert body["plan"]["state"] == "submitted" and body["plan"]["needs_extension"] is False
    assert body["plan"]["cause_analysis"] == "制度未落实到岗" and body["plan"]["milestones"] == PLAN["milestones"]
    assert zhang.get("/api/v1/tasks", params={"item_id": pid}).json()["total"] == 0  # not working to it yet
    refused = zhang.post(f"/api/v1/tasks/{review['id']}/complete", {"data": {"approved": True}})
    assert refused.status_code == 403
    no_reason = sec.post(f"/api/v1/tasks/{review['id']}/complete", {"data": {"approved": False}})
    assert no_reason.status_code == 400

    complete(sec, "review_rectification_plan", pid, {"approved": False, "comment": "原因分析不深入"})
    redo = inbox_task(zhang, "submit_rectification_plan", pid)
    assert redo["returned"]["reason"] == "原因分析不深入" and redo["returned"]["step"] == "审定整改方案"
    assert sec.get(f"/api/v1/problems/{pid}").json()["plan"]["state"] == "returned"
    assert any(n["kind"] == "returned" for n in notifications(zhang)["items"])

    later_plan = {**PLAN, "deadline": "2027-01-15"}  # after 整改时限 2026-12-31
    complete(zhang, "submit_rectification_plan", pid, later_plan)
    plan = sec.get(f"/api/v1/problems/{pid}").json()["plan"]
    assert (plan["deadline"], plan["needs_extension"], plan["state"]) == ("2027-01-15", True, "submitted")
    review = inbox_task(sec, "review_rectification_plan", pid)
    page = Web(server.app, "sec").get(f"/tasks/{review['id']}").text  # the review shows it
    assert 'id="needs-extension"' in page and "晚于整改时限 2026-12-31" in page

    complete(sec, "review_rectification_plan", pid, {"approved": True})
    body = sec.get(f"/api/v1/problems/{pid}").json()
    assert (body["deadline"], body["plan"]["state"], body["plan"]["needs_extension"]) == (
        "2027-01-15", "approved", False)
    assert inbox_task(zhang, "submit_rectification_report", pid)["due_at"] == "2027-01-15T10:00:00+00:00"
    with server.engine.db.read() as session:
        [extended] = session.scalars(select(AuditRecord).where(
            AuditRecord.business_key == pid, AuditRecord.kind == "problem_deadline_extended")).all()
    assert (extended.data["from"], extended.data["to"]) == ("2026-12-31", "2027-01-15")


@BOTH_DATABASES
def test_a_deadline_in_the_past_is_refused_and_changes_nothing(server):
    pid = handed_over(server)
    zhang = server.login("zhang")
    task = inbox_task(zhang, "submit_rectification_plan", pid)
    web = Web(server.app, "zhang")  # (logging in is audited: before the snapshot)
    before = snapshot(server.engine)
    response = zhang.post(f"/api/v1/tasks/{task['id']}/complete",
                          {"data": {**PLAN, "deadline": "2026-11-20"}})
    assert response.status_code == 400, response.text
    assert [(d["field"], d["code"]) for d in response.json()["error"]["details"]] == [
        ("deadline", "date_in_past")]
    assert snapshot(server.engine) == before
    assert zhang.get(f"/api/v1/problems/{pid}").json()["plan"] is None
    page = web.post(f"/tasks/{task['id']}", {  # the page says it next to the field
        "measures": PLAN["measures"], "owner": "zhang", "deadline": "2026-11-20"})
    assert page.status_code == 200
    assert re.search(r'data-field="deadline">整改完成时限不能早于今天<', page.text)
    assert snapshot(server.engine) == before
    today = {**PLAN, "deadline": "2026-11-23"}  # today is not the past
    assert zhang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": today}).status_code == 200
