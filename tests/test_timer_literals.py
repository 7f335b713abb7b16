"""Timer expressions as modelers write them (issue 19): a bare ISO 8601 date, duration or
cycle works as well as an expression (engine.timer_literals), on the simulated clock; deploy
still refuses what is neither."""
import datetime as dt

import pytest
from sqlalchemy import select

from engine.errors import InvalidDefinition
from engine.models import AuditRecord, Timer
from tests.bpmn_snippets import chain, process, timer_after, timer_wait, user_task
from tests.conftest import BOTH_DATABASES, SECRETARY


def at(text):
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc)


def fired(engine, instance_id):
    with engine.db.read() as session:
        return session.scalars(select(AuditRecord.at).where(
            AuditRecord.instance_id == instance_id, AuditRecord.kind == "timer_fired")
            .order_by(AuditRecord.seq)).all()


def open_keys(engine, instance_id):
    return [task.key for task in engine.tasks.inbox(SECRETARY, instance_id=instance_id)[0]]


def boundary(key, timer, cancel):
    """A user task ``work`` with a boundary timer ``timer`` (an XML element) leading to ``late``."""
    return process(key, f"""<bpmn:startEvent id="start"/>
<bpmn:userTask id="work" name="Work"/>
<bpmn:boundaryEvent id="timer" attachedToRef="work" cancelActivity="{cancel}">
  <bpmn:timerEventDefinition>{timer}</bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:userTask id="late" name="Late"/>
<bpmn:endEvent id="end"/><bpmn:endEvent id="late_end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
<bpmn:sequenceFlow id="f3" sourceRef="timer" targetRef="late"/>
<bpmn:sequenceFlow id="f4" sourceRef="late" targetRef="late_end"/>""")


@BOTH_DATABASES
def test_a_bare_duration_on_a_boundary_timer_fires_after_it(engine):
    engine.deploy(boundary("five", "<bpmn:timeDuration>PT5M</bpmn:timeDuration>", "true"))
    instance = engine.instances.start("five", {}, SECRETARY)  # 09:00 +08:00
    engine.advance_clock(seconds=4 * 60)
    assert open_keys(engine, instance.id) == ["work"]
    engine.advance_clock(seconds=2 * 60)
    assert open_keys(engine, instance.id) == ["late"]  # interrupting: work cancelled
    assert fired(engine, instance.id) == [at("2026-11-23T09:05:00.001+08:00")]


@BOTH_DATABASES
def test_a_bare_date_on_an_intermediate_timer_fires_when_it_passes(engine):
    engine.deploy(chain("dated", timer_wait(1, "2026-11-24T09:00:00+08:00"), user_task(2)))
    instance = engine.instances.start("dated", {}, SECRETARY)
    engine.advance_clock(to="2026-11-24T08:59:00+08:00")
    assert open_keys(engine, instance.id) == []
    engine.advance_clock(to="2026-11-24T09:01:00+08:00")
    assert open_keys(engine, instance.id) == ["n2"]
    assert fired(engine, instance.id) == [at("2026-11-24T09:00:00.001+08:00")]


@BOTH_DATABASES
def test_a_bare_cycle_fires_exactly_its_count(engine):
    engine.deploy(boundary("thrice", "<bpmn:timeCycle>R3/PT1H</bpmn:timeCycle>", "false"))
    instance = engine.instances.start("thrice", {}, SECRETARY)
    engine.advance_clock(seconds=10 * 3600)
    assert fired(engine, instance.id) == [at(f"2026-11-23T{hour}:00:00.001+08:00") for hour in (10, 11, 12)]
    assert open_keys(engine, instance.id) == ["work", "late", "late", "late"]
    with engine.db.read() as session:
        assert session.scalars(select(Timer.state).where(Timer.instance_id == instance.id)).all() == ["fired"]


@BOTH_DATABASES
def test_expressions_still_work_and_garbage_is_refused_at_deploy(engine):
    engine.deploy(chain("quoted", timer_after(1, '"PT5M"'), user_task(2)))
    engine.deploy(chain("computed", timer_wait(1, "add_working_days(now(), 1)"), user_task(2)))
    engine.deploy(boundary("forever", "<bpmn:timeCycle>R/P1D</bpmn:timeCycle>", "false"))
    engine.deploy(boundary("miwg", "<bpmn:timeCycle>R6/P1D</bpmn:timeCycle>", "false"))
    quoted = engine.instances.start("quoted", {}, SECRETARY)
    engine.advance_clock(seconds=6 * 60)
    assert open_keys(engine, quoted.id) == ["n2"]

    for timer, expected in ((timer_after(1, "PT5X"), "expected a duration"),
                            (timer_after(1, "R3/PT1H"), "expected a duration"),
                            (timer_wait(1, "2026-12-01T09:00:00"), "with its UTC offset"),
                            (timer_wait(1, "2026-13-01T09:00:00+08:00"), "with its UTC offset")):
        with pytest.raises(InvalidDefinition) as refused:
            engine.deploy(chain("bad", timer, user_task(2)))
        assert (refused.value.details["code"], refused.value.details["element"]) == ("bad_timer", "n1")
        assert expected in refused.value.message
    with pytest.raises(InvalidDefinition) as refused:
        engine.deploy(boundary("bad", "<bpmn:timeCycle>R6/P1X</bpmn:timeCycle>", "false"))
    assert refused.value.details["code"] == "bad_timer" and "expected a repetition" in refused.value.message
