"""Deadlines that hold: reminders, escalations and the accountability ladder, through the engine.

The simulated clock moves; timers fire from the projection; the escalation branch counts the
department's overdue steps in the database and asks the (latest) DMN decision for a measure.
"""
import datetime as dt

import pytest
from sqlalchemy import func, select

from engine.actor import Actor
from tests.api_client import seed_organisation
from tests.conftest import BOTH_DATABASES, LEADER, REPO, SECRETARY, SHIPPED, STAFF, deploy_shipped
from tests.helpers import PLAN, REPORT, complete, new_item, open_task
from workflows import records
from workflows.supervision.items import get_item
from workflows.supervision.models import Escalation, Measure, Notification

SUPERVISOR = Actor("sup", frozenset({"supervisor"}), "office")
LADDER = ["提醒约谈", "通报批评", "考核扣分", "问责建议"]
NATIONAL_DAY = {"clock": {"start": "2026-09-30T10:00:00+08:00"}}


def at(text):
    return dt.datetime.fromisoformat(text)


def shipped(engine):
    return seed_organisation(deploy_shipped(engine, *SHIPPED))


def escalations(engine, **where):
    with engine.db.read() as session:
        query = select(Escalation).order_by(Escalation.overdue_since, Escalation.level)
        for name, value in where.items():
            query = query.where(getattr(Escalation, name) == value)
        return list(session.scalars(query))


def notified(engine, kind=None):
    with engine.db.read() as session:
        query = select(Notification.username, Notification.kind).order_by(Notification.id)
        rows = session.execute(query.where(Notification.kind == kind) if kind else query).all()
    return sorted(tuple(r) for r in rows)


@BOTH_DATABASES
def test_reminded_on_the_due_day_and_escalated_after_it_across_national_day(engine_factory):
    engine = shipped(engine_factory(**NATIONAL_DAY))
    item = new_item(engine, SECRETARY)
    assert open_task(engine, STAFF, "draft_plan", item.id).due_at == at("2026-10-09T18:00:00+08:00")

    engine.advance_clock(to="2026-10-09T08:59:59+08:00")   # the whole holiday passes quietly
    assert notified(engine, "reminder") == []
    engine.advance_clock(to="2026-10-09T09:00:01+08:00")   # 催办 on the due day's morning
    assert notified(engine, "reminder") == [("li", "reminder"), ("zhang", "reminder")]

    engine.advance_clock(to="2026-10-09T18:00:00+08:00")   # due, not yet overdue
    assert escalations(engine) == []
    engine.advance_clock(to="2026-10-09T18:00:01+08:00")
    [escalation] = escalations(engine)
    draft = open_task(engine, STAFF, "draft_plan", item.id)
    assert (escalation.item_id, escalation.task_id, escalation.task_key, escalation.department) == (
        item.id, draft.id, "draft_plan", "d1")
    assert (escalation.overdue_since, escalation.level, escalation.proposed_measure, escalation.state) == (
        at("2026-10-09T18:00:00+08:00"), 1, "提醒约谈", "open")
    assert notified(engine, "escalation") == [("sup", "escalation"), ("sup2", "escalation")]
    handle = open_task(engine, SUPERVISOR, "handle_escalation", item.id)
    assert handle.id == escalation.handle_task_id and handle.candidate_role == "supervisor"
    assert [t.id for t in engine.tasks.inbox(STAFF, business_key=item.id)[0]] == [draft.id]  # still theirs
    records = _timeline(engine, item.id)
    kinds = [r.kind for r in records]
    assert kinds.count("reminder_sent") == 1 and kinds.count("escalation_opened") == 1
    # A listener's record (Event.audit) is appended after its command's own, in the same chain.
    opened = records[kinds.index("escalation_opened")]
    fired = records[kinds.index("escalation_opened") - 1]
    assert (fired.kind, fired.at, fired.instance_id, fired.actor) == (
        "timer_fired", opened.at, item.instance_id, opened.actor) and opened.seq == fired.seq + 1
    assert engine.verify_audit()["ok"]


def _timeline(engine, item_id):
    with engine.db.read() as session:
        return records.timeline(session, item_id)


@BOTH_DATABASES
def test_the_ladder_climbs_per_department_and_year_and_follows_a_redeployed_table(engine_factory):
    engine = shipped(engine_factory())
    items = []
    for _ in range(5):  # one item a day: five overdue plans for d1, in order
        items.append(new_item(engine, SECRETARY))
        engine.advance_clock(seconds=86400)
    other = new_item(engine, SECRETARY, department="d2", co_departments=[])
    engine.advance_clock(to="2026-12-03T18:00:00+08:00")

    d1 = escalations(engine, department="d1")
    assert [e.item_id for e in d1] == [i.id for i in items]  # fired in due order
    assert [(e.level, e.proposed_measure) for e in d1] == list(zip(range(1, 6), LADDER + ["问责建议"]))
    assert [(e.level, e.proposed_measure) for e in escalations(engine, department="d2")] == [(1, "提醒约谈")]

    # A designer rewrites the second rung; an instance started BEFORE the redeploy applies it too.
    running = new_item(engine, SECRETARY, department="d2", co_departments=[])
    table = (REPO / "bpmn" / "accountability.dmn").read_text(encoding="utf-8")
    redeployed, _ = engine.deploy(table.replace('"通报批评"', '"书面警示"'), actor="ada")
    assert redeployed.version == 2
    engine.advance_clock(to="2026-12-08T18:00:00+08:00")
    assert [(e.item_id, e.level, e.proposed_measure) for e in escalations(engine, department="d2")] == [
        (other.id, 1, "提醒约谈"), (running.id, 2, "书面警示")]
    assert [e.proposed_measure for e in escalations(engine, department="d1")][1] == "通报批评"  # kept


def test_a_new_year_starts_the_ladder_again(engine_factory):
    engine = shipped(engine_factory(clock={"start": "2026-12-29T10:00:00+08:00"}))
    new_item(engine, SECRETARY)
    engine.advance_clock(to="2026-12-31T18:00:01+08:00")
    new_item(engine, SECRETARY)  # dispatched on New Year's Eve, due in 2027
    engine.advance_clock(to="2027-01-06T18:00:00+08:00")
    assert [(e.year, e.level) for e in escalations(engine)] == [(2026, 1), (2027, 1)]


@BOTH_DATABASES
def test_two_escalations_racing_for_one_rung_are_counted_again(engine_factory):
    """A stale count (another escalation committed in between) hits the unique rung and is retried."""
    engine = shipped(engine_factory())
    first, second = new_item(engine, SECRETARY), new_item(engine, SECRETARY)
    functions = engine.script_functions()
    real, calls = functions["overdue_steps_in_year"], []

    def stale_once(department, since):
        calls.append(department)
        return 0 if len(calls) == 2 else real(department, since)  # the second item's first try

    functions["overdue_steps_in_year"] = stale_once
    engine.advance_clock(to="2026-11-25T18:00:01+08:00")
    assert len(calls) == 3
    assert sorted((e.level, e.proposed_measure) for e in escalations(engine)) == [(1, "提醒约谈"), (2, "通报批评")]
    assert {e.item_id for e in escalations(engine)} == {first.id, second.id}


@BOTH_DATABASES
def test_an_escalation_still_fires_after_a_restart(engine_factory):
    first = shipped(engine_factory(**NATIONAL_DAY))
    item = new_item(first, SECRETARY)
    first.close()

    second = engine_factory(**NATIONAL_DAY)  # a new process on the same database
    second.advance_clock(to="2026-10-09T18:00:01+08:00")
    [escalation] = escalations(second)
    assert (escalation.item_id, escalation.level) == (item.id, 1)
    assert open_task(second, SUPERVISOR, "handle_escalation", item.id)


@BOTH_DATABASES
def test_extending_an_overdue_step_arms_its_timers_again_and_the_loop_still_closes(engine_factory):
    engine = shipped(engine_factory())
    item = new_item(engine, SECRETARY)
    engine.advance_clock(to="2026-11-25T18:00:01+08:00")
    complete(engine, SUPERVISOR, "handle_escalation",
             {"action": "extend", "new_due": "2026-11-27T18:00:00+08:00", "comment": "给两天"}, item.id)
    assert open_task(engine, STAFF, "draft_plan", item.id).due_at == at("2026-11-27T18:00:00+08:00")
    engine.advance_clock(to="2026-11-27T09:00:01+08:00")
    assert notified(engine, "reminder").count(("zhang", "reminder")) == 2  # reminded again
    engine.advance_clock(to="2026-11-27T18:00:01+08:00")
    assert [(e.level, e.proposed_measure, e.state) for e in escalations(engine)] == [
        (1, "提醒约谈", "handled"), (2, "通报批评", "open")]

    complete(engine, STAFF, "draft_plan", PLAN, item.id)  # late, but done: the loop goes on
    complete(engine, LEADER, "approve_plan", {"approved": True}, item.id)
    complete(engine, SECRETARY, "file_plan", {}, item.id)
    complete(engine, STAFF, "report_progress", {**REPORT, "progress": 100, "done": True,
                                                "completion_report": "已完成"}, item.id)
    complete(engine, SECRETARY, "recheck", {"passed": True, "findings": "属实"}, item.id)
    complete(engine, LEADER, "confirm_close", {"rating": "good"}, item.id)
    assert get_item(engine, item.id).status == "open"  # an escalation is still open
    complete(engine, SUPERVISOR, "handle_escalation", {"action": "accountability"}, item.id)
    assert get_item(engine, item.id).status == "closed"
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Measure)) == 1
    assert engine.verify_audit()["ok"]


def test_an_escalation_of_a_cancelled_item_is_cancelled_too(engine_factory):
    engine = shipped(engine_factory())
    item = new_item(engine, SECRETARY)
    engine.advance_clock(to="2026-11-25T18:00:01+08:00")
    engine.instances.cancel(item.instance_id, "撤销", SECRETARY)
    assert [e.state for e in escalations(engine)] == ["cancelled"]


@pytest.mark.parametrize("data, field", [
    ({"action": "extend"}, "new_due"),
    ({"action": "extend", "new_due": "2026-11-25"}, "new_due"),
    ({"action": "extend", "new_due": "2026-11-20T18:00:00+08:00"}, "new_due"),
    ({"action": "reassign"}, "username"),
    ({"action": "reassign", "username": "wang"}, "username"),      # another department
    ({"action": "reassign", "username": "boss"}, "username"),      # not staff
    ({"action": "reassign", "username": "nobody"}, "username"),
    ({"action": "scold"}, "action"),
])
def test_bad_handling_changes_nothing(engine_factory, data, field):
    from engine.errors import InvalidInput
    from tests.helpers import snapshot

    engine = shipped(engine_factory())
    item = new_item(engine, SECRETARY)
    engine.advance_clock(to="2026-11-25T18:00:01+08:00")
    handle = open_task(engine, SUPERVISOR, "handle_escalation", item.id)
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as caught:
        engine.tasks.complete(handle.id, data, SUPERVISOR)
    assert field in [d["field"] for d in caught.value.details]
    assert snapshot(engine) == before
    assert escalations(engine)[0].state == "open"
