"""Returns (退回): the mark on a step sent back, its reason, the previous answers and the notice,
through the engine's Python API, on SQLite and PostgreSQL."""
from sqlalchemy import select

from tests.api_client import seed_organisation
from tests.conftest import BOTH_DATABASES, LEADER, SECRETARY, STAFF, deploy_shipped
from tests.helpers import DONE_REPORT, ITEM, PLAN, REPORT, complete, new_item, open_task
from workflows import returns
from workflows.supervision import plan_changes
from workflows.rectification.problems import create_problem
from workflows.supervision.models import Notification


def returned(engine, actor, key, record_id):
    task = open_task(engine, actor, key, record_id)
    with engine.db.read() as session:
        return returns.returned(session, task)


def notices(engine, kind="returned"):
    with engine.db.read() as session:
        return sorted(session.execute(select(Notification.username, Notification.title, Notification.body)
                                      .where(Notification.kind == kind)).all())


@BOTH_DATABASES
def test_a_returned_plan_carries_who_when_why_and_the_previous_answers(supervision):
    engine = seed_organisation(supervision)
    item = new_item(engine, SECRETARY)
    assert returned(engine, STAFF, "draft_plan", item.id) is None  # the first draft is no redo
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    engine.clock.advance(seconds=3600)
    complete(engine, LEADER, "approve_plan", {"approved": False, "comment": "措施不具体"}, item.id)

    back = returned(engine, STAFF, "draft_plan", item.id)
    assert (back.by, back.reason, back.step, back.previous) == ("boss", "措施不具体", "审定工作计划", PLAN)
    assert back.at == engine.clock.now()
    (username, title, body), *others = notices(engine)
    assert [u for u, _, _ in notices(engine)] == ["li", "zhang"]  # the department's staff
    assert title == "已退回：DB-2026-0001「制定工作计划」"
    assert body.startswith("分管领导赵 于 2026-11-23 10:00 在「审定工作计划」退回：措施不具体。")

    complete(engine, STAFF, "draft_plan", {**PLAN, "measures": "细化到周"}, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True, "comment": "同意"}, item.id)
    complete(engine, SECRETARY, "file_plan", {}, item.id)
    assert returned(engine, STAFF, "report_progress", item.id) is None
    assert len(notices(engine)) == 2  # an approval tells nobody to redo anything


@BOTH_DATABASES
def test_a_failed_recheck_is_a_return_and_the_next_weekly_report_is_not(supervision):
    """The clock stands still: every step shares one instant, and the mark still tells a return
    from the ordinary loop of weekly reports."""
    engine = seed_organisation(supervision)
    item = new_item(engine, SECRETARY)
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True}, item.id)
    complete(engine, SECRETARY, "file_plan", {}, item.id)
    complete(engine, STAFF, "report_progress", REPORT, item.id)
    assert returned(engine, STAFF, "report_progress", item.id) is None
    complete(engine, STAFF, "report_progress", DONE_REPORT, item.id)
    complete(engine, SECRETARY, "recheck", {"passed": False, "findings": "群众仍有反映"}, item.id)

    back = returned(engine, STAFF, "report_progress", item.id)
    assert (back.by, back.reason, back.step, back.previous) == ("sec", "群众仍有反映", "复查核实", DONE_REPORT)
    task = open_task(engine, STAFF, "report_progress", item.id)
    other = open_task(engine, STAFF, "draft_plan", new_item(engine, SECRETARY).id)
    with engine.db.read() as session:  # the inbox's batch form: only the returned one, no data read
        marks = returns.returned_tasks(session, [task, other])
    assert list(marks) == [task.id] and marks[task.id].previous is None

    complete(engine, STAFF, "report_progress", {**REPORT, "summary": "继续整改"}, item.id)
    assert returned(engine, STAFF, "report_progress", item.id) is None


@BOTH_DATABASES
def test_a_failed_verification_returns_the_rectification_report(engine):
    engine = seed_organisation(deploy_shipped(engine, "accountability.dmn", "rectification.bpmn"))
    problem = create_problem(engine, {"title": "台账缺失", "description": "巡察发现", "source": "inspection",
                                      "department": "d1", "deadline": "2026-12-31"}, SECRETARY)
    complete(engine, SECRETARY, "hand_over", {}, problem.id)
    complete(engine, STAFF, "submit_rectification_plan",
             {"measures": "建立台账", "owner": "zhang", "deadline": "2026-12-12"}, problem.id)
    complete(engine, SECRETARY, "review_rectification_plan", {"approved": True}, problem.id)
    report = {"summary": "已建立台账", "evidence": "台账照片", "done": True}
    complete(engine, STAFF, "submit_rectification_report", report, problem.id)
    complete(engine, SECRETARY, "verify_rectification", {"passed": False, "findings": "仍不完整"}, problem.id)

    back = returned(engine, STAFF, "submit_rectification_report", problem.id)
    assert (back.by, back.reason, back.previous) == ("sec", "仍不完整", report)
    assert [(u, t) for u, t, _ in notices(engine)] == [
        ("li", "已退回：ZG-2026-0001「提交整改报告」"), ("zhang", "已退回：ZG-2026-0001「提交整改报告」")]


@BOTH_DATABASES
def test_the_api_marks_a_returned_task_in_the_inbox_and_gives_the_previous_answers(server):
    sec, staff, leader = (server.login(u) for u in ("sec", "zhang", "boss"))
    item = sec.post("/api/v1/items", ITEM).json()
    draft = inbox_task(staff, "draft_plan", item["id"])
    assert draft["returned"] is None
    assert staff.get(f"/api/v1/tasks/{draft['id']}").json()["returned"] is None
    staff.post(f"/api/v1/tasks/{draft['id']}/complete", json={"data": PLAN})
    approve = inbox_task(leader, "approve_plan", item["id"])
    leader.post(f"/api/v1/tasks/{approve['id']}/complete",
                json={"data": {"approved": False, "comment": "细化措施"}})

    redo = inbox_task(staff, "draft_plan", item["id"])
    mark = {"by": "boss", "at": "2026-11-23T01:00:00+00:00", "reason": "细化措施", "step": "审定工作计划"}
    assert redo["returned"] == mark
    detail = staff.get(f"/api/v1/tasks/{redo['id']}").json()
    assert detail["returned"] == {**mark, "previous": PLAN}
    assert detail["data"] is None  # an open task's own data stays empty until it is completed
    told = staff.get("/api/v1/notifications").json()["items"]
    # the redo's notice is the 退回 one; the first draft's was its handoff (workflows.handoffs)
    assert [(n["kind"], n["task_id"]) for n in told] == [("returned", redo["id"]), ("task_opened", draft["id"])]


def inbox_task(client, key, item_id):
    response = client.get("/api/v1/tasks", params={"item_id": item_id})
    assert response.status_code == 200, response.text
    return next(t for t in response.json()["items"] if t["key"] == key)


@BOTH_DATABASES
def test_a_refused_plan_change_tells_its_requester(engine):
    engine = seed_organisation(
        deploy_shipped(engine, "accountability.dmn", "supervision.bpmn", "plan_change.bpmn"))
    item = new_item(engine, SECRETARY)
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True}, item.id)
    plan_changes.request_change(engine, item, "节点提前", [{"date": "2026-12-10", "target": "提前落地"}], STAFF)
    complete(engine, LEADER, "approve_plan_change", {"approved": False, "comment": "时间过紧"}, item.id)
    assert notices(engine, "plan_change_decided") == [
        ("zhang", "计划调整申请不同意：DB-2026-0001", "分管领导不同意调整「推进政务服务一网通办」的工作计划，原计划不变。意见：时间过紧")]
