"""The supervision loop through the engine's Python API, on SQLite and PostgreSQL."""
from sqlalchemy import select

from engine.models import HumanTask
from tests.conftest import BOTH_DATABASES, LEADER, OTHER_STAFF, SECRETARY, STAFF
from tests.helpers import DONE_REPORT, PLAN, REPORT, complete, new_item, open_task
from workflows.supervision.items import get_item
from workflows.supervision.models import ItemPlan, ItemReport


def _task_keys(engine, item_id):
    with engine.db.read() as session:
        return [(row.key, row.state) for row in session.scalars(
            select(HumanTask).where(HumanTask.business_key == item_id)
            .order_by(HumanTask.created_at, HumanTask.completed_at))]


@BOTH_DATABASES
def test_happy_path_closes_the_item(supervision):
    engine = supervision
    item = new_item(engine, SECRETARY)
    assert item.code == "DB-2026-0001" and item.status == "open"

    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True, "comment": "同意"}, item.id)
    complete(engine, SECRETARY, "file_plan", {"note": "已备案"}, item.id)
    complete(engine, STAFF, "report_progress", REPORT, item.id)
    complete(engine, STAFF, "report_progress", DONE_REPORT, item.id)
    complete(engine, SECRETARY, "recheck", {"passed": True, "findings": "属实"}, item.id)
    complete(engine, LEADER, "confirm_close", {"rating": "excellent", "comment": "好"}, item.id)

    item = get_item(engine, item.id)
    assert item.status == "closed" and item.rating == "excellent" and item.closed_at
    instance = engine.instances.get(item.instance_id)
    assert instance.status == "completed" and instance.ended_at
    assert [key for key, state in _task_keys(engine, item.id)] == [
        "draft_plan", "approve_plan", "file_plan", "report_progress", "report_progress",
        "recheck", "confirm_close"]
    assert all(state == "completed" for _, state in _task_keys(engine, item.id))
    assert engine.verify_audit()["ok"]


@BOTH_DATABASES
def test_returned_plan_is_redrafted_and_failed_recheck_is_redone(supervision):
    engine = supervision
    item = new_item(engine, SECRETARY)
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": False, "comment": "措施不具体"}, item.id)
    redraft = open_task(engine, STAFF, "draft_plan", item.id)
    assert redraft.due_at is not None
    complete(engine, STAFF, "draft_plan", {**PLAN, "measures": "细化到周"}, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True}, item.id)
    complete(engine, SECRETARY, "file_plan", {}, item.id)
    complete(engine, STAFF, "report_progress", DONE_REPORT, item.id)
    complete(engine, SECRETARY, "recheck", {"passed": False, "findings": "群众仍有反映"}, item.id)
    complete(engine, STAFF, "report_progress", {**DONE_REPORT, "summary": "已整改"}, item.id)
    complete(engine, SECRETARY, "recheck", {"passed": True, "findings": "整改到位"}, item.id)
    complete(engine, LEADER, "confirm_close", {"rating": "good"}, item.id)

    assert get_item(engine, item.id).status == "closed"
    with engine.db.read() as session:
        plans = session.scalars(select(ItemPlan).where(ItemPlan.item_id == item.id)
                                .order_by(ItemPlan.id)).all()
        reports = session.scalars(select(ItemReport).where(ItemReport.item_id == item.id)
                                  .order_by(ItemReport.id)).all()
    assert [(p.state, p.measures) for p in plans] == [("returned", "专班推进"), ("filed", "细化到周")]
    assert plans[0].decision_comment == "措施不具体"
    assert [(r.summary, r.recheck_passed) for r in reports] == [("已完成", False), ("已整改", True)]


@BOTH_DATABASES
def test_tasks_are_routed_to_the_right_people(supervision):
    engine = supervision
    item = new_item(engine, SECRETARY)
    draft = open_task(engine, STAFF, "draft_plan", item.id)
    assert (draft.candidate_role, draft.candidate_department) == ("staff", "d1")
    for outsider in (OTHER_STAFF, LEADER, SECRETARY):
        assert engine.tasks.inbox(outsider, business_key=item.id)[0] == []
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    approve = open_task(engine, LEADER, "approve_plan", item.id)
    assert approve.candidate_user == "boss" and approve.candidate_role == "leader"
    assert engine.tasks.inbox(STAFF, business_key=item.id)[0] == []


@BOTH_DATABASES
def test_item_codes_count_up_per_year(supervision):
    codes = [new_item(supervision, SECRETARY).code for _ in range(3)]
    assert codes == ["DB-2026-0001", "DB-2026-0002", "DB-2026-0003"]
