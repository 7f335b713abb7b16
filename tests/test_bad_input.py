"""Refused commands change nothing: bad form data, someone else's task, done tasks, unknown ids."""
import pytest

from engine.errors import Conflict, Forbidden, FormInvalid, InvalidInput, NotFound
from tests.conftest import BOTH_DATABASES, LEADER, OTHER_STAFF, SECRETARY, STAFF
from tests.helpers import PLAN, complete, new_item, open_task, snapshot


@BOTH_DATABASES
@pytest.mark.parametrize("data, fields", [
    ({}, {"owner", "milestones", "measures", "expected_result"}),
    ({**PLAN, "milestones": []}, {"milestones"}),
    ({**PLAN, "milestones": [{"date": "not a date", "target": "x"}]}, {"milestones/0/date"}),
    ({**PLAN, "owner": 42}, {"owner"}),
    ({**PLAN, "extra": {"typename": "x"}}, {"extra", "extra/typename"}),
])
def test_form_that_fails_changes_nothing(supervision, data, fields):
    engine = supervision
    item = new_item(engine, SECRETARY)
    task = open_task(engine, STAFF, "draft_plan", item.id)
    before = snapshot(engine)
    with pytest.raises(FormInvalid) as caught:
        engine.tasks.complete(task.id, data, STAFF)
    assert {detail["field"] for detail in caught.value.details} == fields
    assert snapshot(engine) == before
    assert open_task(engine, STAFF, "draft_plan", item.id).id == task.id


@BOTH_DATABASES
def test_conditional_requirement_in_a_form(supervision):
    engine = supervision
    item = new_item(engine, SECRETARY)
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    task = open_task(engine, LEADER, "approve_plan", item.id)
    with pytest.raises(FormInvalid) as caught:
        engine.tasks.complete(task.id, {"approved": False}, LEADER)
    assert [d["field"] for d in caught.value.details] == ["comment"]


@BOTH_DATABASES
def test_someone_elses_task_is_forbidden(supervision):
    engine = supervision
    item = new_item(engine, SECRETARY)
    task = open_task(engine, STAFF, "draft_plan", item.id)
    before = snapshot(engine)
    for outsider in (OTHER_STAFF, LEADER, SECRETARY):
        with pytest.raises(Forbidden):
            engine.tasks.complete(task.id, PLAN, outsider)
    assert snapshot(engine) == before


@BOTH_DATABASES
def test_completed_task_is_a_conflict_and_unknown_ids_are_not_found(supervision):
    engine = supervision
    item = new_item(engine, SECRETARY)
    task = open_task(engine, STAFF, "draft_plan", item.id)
    engine.tasks.complete(task.id, PLAN, STAFF)
    before = snapshot(engine)
    with pytest.raises(Conflict):
        engine.tasks.complete(task.id, PLAN, STAFF)
    with pytest.raises(NotFound):
        engine.tasks.complete("00000000-0000-0000-0000-000000000000", PLAN, STAFF)
    with pytest.raises(NotFound):
        engine.instances.get("no-such-instance")
    with pytest.raises(NotFound):
        engine.instances.start("no_such_process", {}, SECRETARY)
    assert snapshot(engine) == before


@BOTH_DATABASES
@pytest.mark.parametrize("data, field", [
    ({"department": "d1", "leader": "boss", "deadline": "2026-12-31"}, "title"),
    ({"title": " \t ", "department": "d1", "leader": "boss", "deadline": "2026-12-31"}, "title"),  # blank
    ({"title": "x", "department": "d1", "leader": "boss", "deadline": "31/12/2026"}, "deadline"),
    ({"title": "x", "department": 7, "leader": "boss", "deadline": "2026-12-31"}, "department"),
    ({"title": "x", "department": "d1", "leader": "boss", "deadline": "2026-12-31", "colour": 1}, "colour"),
])
def test_invalid_item_is_refused(supervision, data, field):
    from workflows.supervision.items import create_item

    before = snapshot(supervision)
    with pytest.raises(InvalidInput) as caught:
        create_item(supervision, data, SECRETARY)
    assert field in {detail["field"] for detail in caught.value.details}
    assert snapshot(supervision) == before


def test_start_variables_are_checked(supervision):
    before = snapshot(supervision)
    with pytest.raises(InvalidInput):
        supervision.instances.start("supervision", {"now": 1}, SECRETARY)  # shadows a function
    with pytest.raises(InvalidInput):
        supervision.instances.start("supervision", {"x": {"typename": "y"}}, SECRETARY)
    with pytest.raises(InvalidInput):
        supervision.instances.start("supervision", ["not", "a", "dict"], SECRETARY)
    assert snapshot(supervision) == before


@BOTH_DATABASES
def test_completion_data_may_not_shadow_script_functions(engine):
    """Issue 13: ``{"now": "x"}`` is refused at completion as it is at start (``reserved_name``)."""
    from engine.actor import Actor
    from tests.bpmn_snippets import chain, script, user_task

    engine.deploy(chain("p", user_task(1), script(2, "later = now()"), user_task(3)))
    admin = Actor("root", frozenset({"admin"}), None)
    instance = engine.instances.start("p", {}, admin)
    with engine.db.read() as session:
        task = engine.instances.open_tasks(session, [instance.id])[instance.id][0]
    before = snapshot(engine)
    for name in ("now", "report_due"):
        with pytest.raises(FormInvalid) as refused:
            engine.tasks.complete(task.id, {name: "x"}, admin)
        assert [(d["field"], d["code"]) for d in refused.value.details] == [(name, "reserved_name")]
    assert snapshot(engine) == before
    engine.tasks.complete(task.id, {"note": "x"}, admin)
    assert engine.instances.get(instance.id).status == "running"  # now() still a function
