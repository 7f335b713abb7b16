"""Long-running items stay small: engine.compaction drops a workflow's finished past at save.

A year of weekly progress reports, with reminders and escalations fired by timers on the way,
must leave the instance's task tree (and its saved state) the size of one round, while the
loop still behaves: every report, escalation and handling is recorded, and the item closes.
"""
import json

from sqlalchemy import func, select

from engine import compaction, serialization
from engine.models import Instance
from tests.conftest import BOTH_DATABASES, LEADER, SECRETARY, STAFF
from tests.helpers import DONE_REPORT, PLAN, REPORT, complete, new_item, open_task
from tests.test_escalation import SUPERVISOR, escalations, shipped
from workflows.supervision.items import get_item
from workflows.supervision.models import ItemReport

WEEK = 7 * 86400


def _tree(engine, instance_id):
    """(task count, state size in bytes) of the saved instance."""
    with engine.db.read() as session:
        state = session.get(Instance, instance_id).state
    return len(json.loads(state)["tasks"]), len(state)


def _filed_item(engine):
    item = new_item(engine, SECRETARY)
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True}, item.id)
    complete(engine, SECRETARY, "file_plan", {}, item.id)
    return item


@BOTH_DATABASES
def test_a_year_of_late_weekly_reports_keeps_the_instance_the_size_of_one_round(engine_factory):
    engine = shipped(engine_factory())
    item = _filed_item(engine)
    sizes = []
    for week in range(52):
        engine.advance_clock(seconds=WEEK)  # the report falls due and overdue: 催办, then 逾期
        complete(engine, SUPERVISOR, "handle_escalation", {"action": "remind", "comment": f"第{week + 1}周"},
                 item.id)
        complete(engine, STAFF, "report_progress", {**REPORT, "summary": f"第{week + 1}周进展"}, item.id)
        sizes.append(_tree(engine, item.instance_id))
    assert len(escalations(engine, item_id=item.id)) == 52
    assert {e.state for e in escalations(engine, item_id=item.id)} == {"handled"}
    # the same size in week 52 as in week 2: no growth with the number of rounds
    (tasks_2, bytes_2), (tasks_52, bytes_52) = sizes[1], sizes[-1]
    assert tasks_52 == tasks_2 < 40
    assert bytes_52 < bytes_2 * 1.05  # only the week numbers in the texts got longer

    complete(engine, STAFF, "report_progress", DONE_REPORT, item.id)
    complete(engine, SECRETARY, "recheck", {"passed": True, "findings": "属实"}, item.id)
    complete(engine, LEADER, "confirm_close", {"rating": "good"}, item.id)
    assert get_item(engine, item.id).status == "closed"
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ItemReport)
                              .where(ItemReport.item_id == item.id)) == 53
    assert engine.instances.get(item.instance_id).status == "completed"
    assert engine.verify_audit()["ok"]


def test_an_escalation_left_open_for_weeks_holds_its_branch_and_is_handled_later(engine_factory):
    engine = shipped(engine_factory())
    item = _filed_item(engine)
    engine.advance_clock(seconds=WEEK)
    first = open_task(engine, SUPERVISOR, "handle_escalation", item.id)
    for week in range(6):  # the department reports every week; the first escalation stays open
        complete(engine, STAFF, "report_progress", REPORT, item.id)
        engine.advance_clock(seconds=WEEK)
    handling = [t for t in engine.tasks.inbox(SUPERVISOR, business_key=item.id)[0]
                if t.key == "handle_escalation"]
    assert first.id in {t.id for t in handling} and len(handling) == 7
    held, _ = _tree(engine, item.instance_id)  # the open branch holds every round since
    for task in handling:  # all of them still work, the oldest too
        engine.tasks.complete(task.id, {"action": "remind"}, SUPERVISOR)
    handled, _ = _tree(engine, item.instance_id)
    assert handled < held / 2  # handled: the old rounds are dropped
    assert {e.state for e in escalations(engine, item_id=item.id)} == {"handled"}


def test_compaction_keeps_a_finished_workflow_whole_and_leaves_nothing_dangling(engine_factory):
    engine = shipped(engine_factory())
    item = _filed_item(engine)
    complete(engine, STAFF, "report_progress", REPORT, item.id)
    instance = engine.instances.get(item.instance_id)
    workflow = engine.uow.load(instance)
    assert compaction.compact(workflow) == 0  # saved compacted already
    root = workflow.task_tree
    assert [child.parent for child in root.children] == [root]
    for task in workflow.tasks.values():  # every link points at a task that exists
        assert task is root or task.parent is not None
        assert all(child is not None for child in task.children)
    # and it still round-trips through the saved format
    again = serialization.load(serialization.dump(workflow), workflow.spec, workflow.subprocess_specs,
                               engine.script_engine())
    assert len(again.tasks) == len(workflow.tasks)

    for key, actor, data in (("report_progress", STAFF, DONE_REPORT),
                             ("recheck", SECRETARY, {"passed": True, "findings": "属实"}),
                             ("confirm_close", LEADER, {"rating": "good"})):
        complete(engine, actor, key, data, item.id)
    finished = engine.uow.load(engine.instances.get(item.instance_id))
    assert finished.is_completed()
    assert compaction.compact(finished) == 0  # nothing unfinished: the whole record stays
