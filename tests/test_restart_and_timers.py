"""A new engine on the same database continues where the old one was; timers fire from the
projection when the clock passes them."""
from sqlalchemy import select

from engine.models import Timer
from tests.bpmn_snippets import chain, timer_wait, user_task
from tests.conftest import BOTH_DATABASES, LEADER, SECRETARY, STAFF, deploy_shipped
from tests.helpers import PLAN, complete, new_item, open_task
from workflows.supervision.items import get_item


@BOTH_DATABASES
def test_restarted_engine_continues(engine_factory):
    first = engine_factory()
    deploy_shipped(first, "accountability.dmn", "supervision.bpmn")
    item = new_item(first, SECRETARY)
    complete(first, STAFF, "draft_plan", PLAN, item.id)
    first.close()

    second = engine_factory()  # new process: empty spec cache, same database
    task = open_task(second, LEADER, "approve_plan", item.id)
    second.tasks.complete(task.id, {"approved": True}, LEADER)
    assert open_task(second, SECRETARY, "file_plan", item.id)
    assert get_item(second, item.id).status == "open"
    assert second.verify_audit()["ok"]


@BOTH_DATABASES
def test_timer_fires_when_the_clock_passes_it(engine):
    engine.deploy(chain("wait", timer_wait(1, "add_working_days(now(), 1)"), user_task(2)))
    instance = engine.instances.start("wait", {}, SECRETARY)
    with engine.db.read() as session:
        timer = session.scalar(select(Timer).where(Timer.instance_id == instance.id))
    assert timer.state == "waiting"
    assert timer.fire_at.isoformat() == "2026-11-24T01:00:00+00:00"  # Tue 09:00 +08:00

    engine.clock.advance(seconds=23 * 3600)
    assert engine.timers.fire_due() == 0
    engine.clock.advance(seconds=2 * 3600)
    assert engine.timers.fire_due() == 1
    assert [t.key for t in engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0]] == ["n2"]
    with engine.db.read() as session:
        assert session.get(Timer, timer.id).state == "fired"
    assert engine.timers.fire_due() == 0


def test_timer_survives_a_restart(engine_factory):
    first = engine_factory()
    first.deploy(chain("wait", timer_wait(1, "'2026-11-24T09:00:00+08:00'"), user_task(2)))
    instance = first.instances.start("wait", {}, SECRETARY)
    first.close()
    second = engine_factory(clock={"start": "2026-11-25T09:00:00+08:00"})
    assert second.timers.fire_due() == 1
    assert second.instances.get(instance.id).status == "running"
    assert [t.key for t in second.tasks.inbox(SECRETARY, instance_id=instance.id)[0]] == ["n2"]


@BOTH_DATABASES
def test_suspended_instance_waits_and_catches_up_on_resume(engine):
    import pytest

    from engine.errors import Conflict

    engine.deploy(chain("wait", user_task(1), timer_wait(2, "add_working_days(now(), 1)"), user_task(3)))
    instance = engine.instances.start("wait", {}, SECRETARY)
    first = engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0][0]
    engine.tasks.complete(first.id, {}, SECRETARY)
    assert engine.instances.suspend(instance.id, "审计冻结", SECRETARY).status == "suspended"
    engine.clock.advance(seconds=3 * 86400)
    engine.timers.fire_due()
    assert engine.instances.get(instance.id).status == "suspended"
    assert engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0] == []   # the timer did not fire
    with pytest.raises(Conflict):
        engine.instances.suspend(instance.id, "again", SECRETARY)

    resumed = engine.instances.resume(instance.id, SECRETARY)
    assert resumed.status == "running"
    assert [t.key for t in engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0]] == ["n3"]
