"""Handoffs (交办): every new step notifies who must act on it, an overdue step its department,
a complaint the secretariat; a closed item leaves no unread notice. Engine level, both databases."""
from sqlalchemy import select

from api.models import User
from tests.api_client import seed_organisation
from tests.conftest import BOTH_DATABASES, LEADER, SECRETARY, SHIPPED, STAFF, deploy_shipped
from tests.helpers import DONE_REPORT, PLAN, complete, new_item
from workflows.complaints import intake, triage
from workflows.supervision.models import Notification


def add_user(engine, username, display_name, department, roles):
    with engine.db.write() as session:
        session.add(User(username=username, password_hash="-", display_name=display_name,
                         department=department, roles=roles, created_at=engine.clock.now()))


def told(engine, kind="task_opened", record_id=None):
    """``[(username, title)]`` of the notices of ``kind`` (of one record), sorted."""
    query = select(Notification.username, Notification.title).where(Notification.kind == kind)
    if record_id:
        query = query.where(Notification.item_id == record_id)
    with engine.db.read() as session:
        return sorted(tuple(row) for row in session.execute(query))


def unread(engine, record_id):
    with engine.db.read() as session:
        return list(session.scalars(select(Notification.username).where(
            Notification.item_id == record_id, Notification.read_at.is_(None))))


@BOTH_DATABASES
def test_each_handoff_of_an_item_tells_who_must_act_and_closing_marks_them_done(engine):
    engine = seed_organisation(deploy_shipped(engine, *SHIPPED))
    item = new_item(engine, SECRETARY)  # 立项交办: the lead department's staff draft the plan
    assert told(engine) == [("li", "待办：DB-2026-0001「制定工作计划」"),
                            ("zhang", "待办：DB-2026-0001「制定工作计划」")]

    complete(engine, STAFF, "draft_plan", PLAN, item.id)  # the leader approves
    assert told(engine)[0] == ("boss", "待办：DB-2026-0001「审定工作计划」")
    complete(engine, LEADER, "approve_plan", {"approved": False, "comment": "再细化"}, item.id)
    # the redo step: its staff get the 退回 notice only, not a second 待办 for the same task
    assert [u for u, _ in told(engine, "returned")] == ["li", "zhang"]
    assert len(told(engine)) == 3
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True}, item.id)
    assert ("sec", "待办：DB-2026-0001「备案」") in told(engine)  # the secretariat files
    complete(engine, SECRETARY, "file_plan", {}, item.id)
    complete(engine, STAFF, "report_progress", DONE_REPORT, item.id)
    assert ("sec", "待办：DB-2026-0001「复查核实」") in told(engine)  # ... and rechecks

    assert unread(engine, item.id)
    engine.instances.cancel(item.instance_id, "重复立项", SECRETARY)
    assert unread(engine, item.id) == []  # a cancelled item leaves no unread notice


@BOTH_DATABASES
def test_dispatch_and_an_overdue_step_tell_the_department_and_an_escalation_the_supervisors(engine):
    engine = seed_organisation(deploy_shipped(engine, *SHIPPED))
    add_user(engine, "d1lead", "发改委主任", "d1", ["leader"])
    item = new_item(engine, SECRETARY)
    engine.advance_clock(to="2026-12-31T18:00:01+08:00")  # far past the plan's due time

    # 立项交办 went to the department, its leader included
    assert [u for u, _ in told(engine, record_id=item.id)] == ["d1lead", "li", "zhang"]
    assert [u for u, _ in told(engine, "overdue", item.id)] == ["d1lead", "li", "zhang"]
    assert told(engine, "overdue")[0][1] == "已逾期：DB-2026-0001「制定工作计划」"
    assert [u for u, _ in told(engine, "escalation")] == ["sup", "sup2"]
    # the escalation task tells nobody twice: the supervisors have its 逾期督办 notice
    assert not [u for u, title in told(engine) if "督办" in title]


@BOTH_DATABASES
def test_a_complaint_tells_the_secretariat_and_its_problem_the_next_step(engine):
    engine = seed_organisation(deploy_shipped(engine, "accountability.dmn", "rectification.bpmn"))
    complaint = intake.receive(engine, {"text": "路灯坏了"}, "10.1.1.1", 5)
    assert told(engine, "complaint_received") == [("sec", "群众反映：新反映待分拣")]

    problem = triage.triage_as_problem(engine, complaint.id, {
        "title": "路灯不亮", "department": "d2", "deadline": "2026-12-31"}, SECRETARY)
    assert unread(engine, complaint.id) == []  # triaged: the secretariat's notice is done
    assert told(engine, record_id=problem.id) == [("sec", f"待办：{problem.code}「移交」")]
