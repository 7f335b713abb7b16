"""回头看 after closure: scheduled on a closed problem or item, opened on its date by the
simulated clock, "rebounded" reopens rectification, "holds" records it (both databases)."""
import pytest
from sqlalchemy import select

from engine.errors import Conflict, InvalidInput
from tests.conftest import BOTH_DATABASES, SECRETARY, STAFF, deploy_shipped
from tests.helpers import complete, open_task, snapshot
from workflows.lookback import lookbacks
from workflows.lookback.models import Lookback
from workflows.rectification.models import Problem
from workflows.rectification.problems import create_problem, get_problem

PROBLEM = {"title": "食堂台账缺失", "source": "inspection", "department": "d1", "deadline": "2026-12-31"}
PLAN = {"measures": "建立台账", "owner": "zhang", "deadline": "2026-12-10"}
DONE = {"summary": "已建立台账", "evidence": "台账照片", "done": True}


@pytest.fixture
def shipped(engine):
    return deploy_shipped(engine, "accountability.dmn", "supervision.bpmn", "rectification.bpmn", "lookback.bpmn")


def closed_problem(engine):
    problem = create_problem(engine, PROBLEM, SECRETARY)
    rectify(engine, problem.id)
    assert get_problem(engine, problem.id).status == "closed"
    return problem


def rectify(engine, problem_id, plan=PLAN):
    complete(engine, SECRETARY, "hand_over", {"requirements": "建立台账"}, problem_id)
    complete(engine, STAFF, "submit_rectification_plan", plan, problem_id)
    complete(engine, SECRETARY, "review_rectification_plan", {"approved": True}, problem_id)
    complete(engine, STAFF, "submit_rectification_report", DONE, problem_id)
    complete(engine, SECRETARY, "verify_rectification", {"passed": True, "findings": "通过"}, problem_id)


def keys(engine, actor, record_id):
    rows, _ = engine.tasks.inbox(actor, business_key=record_id)
    return sorted(row.key for row in rows)


@BOTH_DATABASES
def test_a_lookback_fires_on_its_date_and_a_rebound_reopens_the_problem(shipped):
    engine = shipped
    problem = closed_problem(engine)
    lookbacks.schedule(engine, "problem", problem.id, {"on": "2027-01-11"}, SECRETARY)  # a Monday
    assert keys(engine, SECRETARY, problem.id) == []
    engine.advance_clock(to="2027-01-11T08:59:00+08:00")
    assert keys(engine, SECRETARY, problem.id) == []  # not before office opening of that day
    engine.advance_clock(to="2027-01-11T09:00:01+08:00")
    assert keys(engine, SECRETARY, problem.id) == ["lookback_check"]
    assert keys(engine, STAFF, problem.id) == []  # the secretariat's

    complete(engine, SECRETARY, "lookback_check",
             {"result": "rebounded", "findings": "台账又停记", "new_deadline": "2027-02-26"}, problem.id)
    reopened = get_problem(engine, problem.id)
    assert (reopened.status, reopened.rebounds, reopened.deadline.isoformat()) == ("open", 1, "2027-02-26")
    assert reopened.instance_id != problem.instance_id and reopened.code == problem.code
    assert reopened.plan_submitted_at is None and reopened.closed_at is None
    assert keys(engine, SECRETARY, problem.id) == ["hand_over"]
    complete(engine, SECRETARY, "hand_over", {"requirements": "重新建立台账"}, problem.id)
    assert keys(engine, STAFF, problem.id) == ["submit_rectification_plan"]
    rectify_rest = {**PLAN, "deadline": "2027-02-20"}
    complete(engine, STAFF, "submit_rectification_plan", rectify_rest, problem.id)
    complete(engine, SECRETARY, "review_rectification_plan", {"approved": True}, problem.id)
    assert keys(engine, STAFF, problem.id) == ["submit_rectification_report"]
    complete(engine, STAFF, "submit_rectification_report", DONE, problem.id)
    complete(engine, SECRETARY, "verify_rectification", {"passed": True, "findings": "通过"}, problem.id)
    closed = get_problem(engine, problem.id)
    assert (closed.status, closed.rebounds) == ("closed", 1)
    with engine.db.read() as session:
        row = session.scalar(select(Lookback))
        kinds = [r.kind for r in __import__("workflows.records", fromlist=["x"]).timeline(session, problem.id)]
    assert (row.status, row.findings, row.new_deadline.isoformat()) == ("rebounded", "台账又停记", "2027-02-26")
    assert "lookback_rebounded" in kinds


@BOTH_DATABASES
def test_holds_is_recorded_and_months_count_from_closure(shipped):
    engine = shipped
    problem = closed_problem(engine)  # closed on 2026-11-23
    lookbacks.schedule(engine, "problem", problem.id, {"months": 3}, SECRETARY)
    with engine.db.read() as session:
        assert session.scalar(select(Lookback.due_on)).isoformat() == "2027-02-23"
    engine.advance_clock(to="2027-02-23T09:00:01+08:00")
    complete(engine, SECRETARY, "lookback_check", {"result": "holds", "findings": "成果巩固"}, problem.id)
    held = get_problem(engine, problem.id)
    assert (held.status, held.rebounds) == ("closed", 0)
    with engine.db.read() as session:
        assert session.scalar(select(Lookback.status)) == "holds"
    lookbacks.schedule(engine, "problem", problem.id, {"months": 6}, SECRETARY)  # another, once none waits


@BOTH_DATABASES
def test_bad_lookbacks_are_refused_and_change_nothing(shipped):
    engine = shipped
    open_problem = create_problem(engine, PROBLEM, SECRETARY)
    before = snapshot(engine)
    with pytest.raises(Conflict) as refused:
        lookbacks.schedule(engine, "problem", open_problem.id, {"on": "2027-01-11"}, SECRETARY)
    assert refused.value.reason == "not_closed"
    rectify(engine, open_problem.id)
    before = snapshot(engine)
    for body, code in [({"on": "2026-11-23"}, "not_after_today"), ({"on": "2026-11-01"}, "not_after_today"),
                       ({"on": "明天"}, "invalid_date"), ({"months": 0}, "out_of_range"),
                       ({"months": "3"}, "out_of_range"), ({}, "required"),
                       ({"on": "2027-01-11", "months": 2}, "required"), ({"on": "2027-01-11", "x": 1}, "unknown")]:
        with pytest.raises(InvalidInput) as refused:
            lookbacks.schedule(engine, "problem", open_problem.id, body, SECRETARY)
        assert code in [p["code"] for p in refused.value.details], body
    assert snapshot(engine) == before
    lookbacks.schedule(engine, "problem", open_problem.id, {"on": "2027-01-11"}, SECRETARY)
    before = snapshot(engine)
    with pytest.raises(Conflict) as refused:
        lookbacks.schedule(engine, "problem", open_problem.id, {"months": 2}, SECRETARY)
    assert refused.value.reason == "lookback_pending" and snapshot(engine) == before

    engine.advance_clock(to="2027-01-11T09:00:01+08:00")
    task = open_task(engine, SECRETARY, "lookback_check", open_problem.id)
    before = snapshot(engine)
    for data, code in [({"result": "rebounded", "findings": "反弹"}, None),
                       ({"result": "rebounded", "findings": "反弹", "new_deadline": "2027-01-08"}, "date_in_past")]:
        with pytest.raises(InvalidInput) as refused:
            engine.tasks.complete(task.id, data, SECRETARY)
        if code:
            assert code in [p["code"] for p in refused.value.details]
    assert snapshot(engine) == before


def closed_item(engine):
    from tests.conftest import LEADER
    from tests.helpers import DONE_REPORT, PLAN as ITEM_PLAN, new_item
    item = new_item(engine, SECRETARY, co_departments=[])
    complete(engine, STAFF, "draft_plan", ITEM_PLAN, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True, "comment": "同意"}, item.id)
    complete(engine, SECRETARY, "file_plan", {"note": "已备案"}, item.id)
    complete(engine, STAFF, "report_progress", DONE_REPORT, item.id)
    complete(engine, SECRETARY, "recheck", {"passed": True, "findings": "属实"}, item.id)
    complete(engine, LEADER, "confirm_close", {"rating": "excellent", "comment": "好"}, item.id)
    return item


@BOTH_DATABASES
def test_a_rebounded_item_registers_a_problem_for_its_department(shipped):
    from workflows.supervision.items import get_item
    engine = shipped
    item = closed_item(engine)
    lookbacks.schedule(engine, "item", item.id, {"on": "2026-12-01"}, SECRETARY)
    engine.advance_clock(to="2026-12-01T09:00:01+08:00")
    complete(engine, SECRETARY, "lookback_check",
             {"result": "rebounded", "findings": "一网通办入口失效", "new_deadline": "2026-12-31"}, item.id)
    assert get_item(engine, item.id).rebounds == 1 and get_item(engine, item.id).status == "closed"
    with engine.db.read() as session:
        (problem,) = session.scalars(select(Problem)).all()
    assert (problem.department, problem.deadline.isoformat(), problem.status) == ("d1", "2026-12-31", "open")
    assert item.code in problem.description and problem.title.startswith("回头看反弹")
    assert keys(engine, SECRETARY, problem.id) == ["hand_over"]


@BOTH_DATABASES
def test_the_api_schedules_and_the_ledger_shows_rebounds(server):
    from tests.test_api_escalation import advance
    engine = server.engine
    problem = closed_problem(engine)
    sec, zhang = server.login("sec"), server.login("zhang")
    url = f"/api/v1/problems/{problem.id}/lookback"
    assert zhang.post(url, {"months": 1}).status_code == 403
    refused = sec.post(url, {"on": "2026-11-20"})
    assert refused.status_code == 400 and refused.json()["error"]["details"][0]["code"] == "not_after_today"
    assert sec.post(f"/api/v1/problems/nope/lookback", {"months": 1}).status_code == 404
    created = sec.post(url, {"months": 1})
    assert created.status_code == 201, created.text
    assert created.json()["due_on"] == "2026-12-23" and created.json()["status"] == "pending"
    again = sec.post(url, {"on": "2027-01-11"})
    assert again.status_code == 409 and again.json()["error"]["details"][0]["code"] == "lookback_pending"

    advance(server, "2026-12-23T09:00:01+08:00")
    task = [t for t in sec.get("/api/v1/tasks", params={"item_id": problem.id}).json()["items"]
            if t["key"] == "lookback_check"]
    assert task, sec.get("/api/v1/tasks").json()
    done = sec.post(f"/api/v1/tasks/{task[0]['id']}/complete",
                    {"data": {"result": "rebounded", "findings": "反弹", "new_deadline": "2027-01-29"}})
    assert done.status_code == 200, done.text
    (row,) = sec.get("/api/v1/problems").json()["items"]
    assert (row["status"], row["rebounds"], row["deadline"]) == ("open", 1, "2027-01-29")
    csv = sec.get("/api/v1/problems", params={"format": "csv"}).content.decode("utf-8-sig").splitlines()
    assert csv[0].split(",")[-1] == "反弹" and csv[1].split(",")[-1] == "1"


def test_the_secretariat_schedules_from_the_problem_page(server):
    from tests.test_web_pages import Web
    problem = closed_problem(server.engine)
    sec, zhang = Web(server.app, "sec"), Web(server.app, "zhang")
    page = f"/problems/{problem.id}"
    assert 'id="lookback"' in sec.get(page).text and 'id="lookback"' not in zhang.get(page).text
    assert zhang.post(f"{page}/lookback", {"months": "3"}, token_from=page).status_code == 403
    refused = sec.post(f"{page}/lookback", {"on": "2026-11-20"}, token_from=page)
    assert refused.status_code == 302 and "回头看日期须晚于今天" in sec.get(page).text
    done = sec.post(f"{page}/lookback", {"on": "", "months": "1"}, token_from=page)
    assert done.status_code == 302
    shown = sec.get(page).text
    assert "已安排回头看：2026年12月23日" in shown and 'data-lookback="pending"' in shown
    assert "安排回头看</button>" not in shown  # one pending at a time

    server.engine.advance_clock(to="2026-12-23T09:00:01+08:00")
    complete(server.engine, SECRETARY, "lookback_check",
             {"result": "rebounded", "findings": "台账停记", "new_deadline": "2027-01-29"}, problem.id)
    assert 'data-lookback="rebounded"' in sec.get(page).text
    ledger = sec.get("/problems").text
    assert "<th>反弹</th>" in ledger and '<td data-label="反弹">1</td>' in ledger
