"""The engine's generic deadline machinery, on a process that knows nothing of 督办:
rescheduling a user task with its boundary timers, script-emitted events, after-commit
callbacks, before-complete hooks, and decisions evaluated in their latest version."""
import datetime as dt

import pytest
from sqlalchemy import select

from engine.errors import Conflict, InvalidDefinition, InvalidInput
from engine.models import AuditRecord, Timer
from engine.registry import Registry
from engine.runtime import Engine
from tests.bpmn_snippets import HEAD
from tests.conftest import BOTH_DATABASES, SECRETARY, make_config

DUE = "2026-11-25T18:00:00+08:00"

# start -> set due -> work (due: work_due) with a non-interrupting reminder (09:00 of the due day)
# and escalation (at the due time), each leading to a script that emits an event, then an end.
PROCESS = HEAD + f'''<bpmn:process id="deadline" isExecutable="true">
<bpmn:startEvent id="start"/>
<bpmn:scriptTask id="set_due"><bpmn:script>work_due = "{DUE}"</bpmn:script></bpmn:scriptTask>
<bpmn:userTask id="work" name="Work">
  <bpmn:extensionElements><spiffworkflow:properties>
    <spiffworkflow:property name="dueDate" value="work_due"/>
  </spiffworkflow:properties></bpmn:extensionElements>
</bpmn:userTask>
<bpmn:boundaryEvent id="remind" attachedToRef="work" cancelActivity="false">
  <bpmn:timerEventDefinition><bpmn:timeDate>last_working_day_start(work_due)</bpmn:timeDate></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:scriptTask id="note_remind"><bpmn:script>emit("late", {{"what": "remind", "due": work_due}})</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="reminded"/>
<bpmn:boundaryEvent id="escalate" attachedToRef="work" cancelActivity="false">
  <bpmn:timerEventDefinition><bpmn:timeDate>work_due</bpmn:timeDate></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:scriptTask id="note_escalate"><bpmn:script>emit("late", {{"what": "escalate", "due": work_due}})</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="escalated"/>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="set_due"/>
<bpmn:sequenceFlow id="f2" sourceRef="set_due" targetRef="work"/>
<bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end"/>
<bpmn:sequenceFlow id="f4" sourceRef="remind" targetRef="note_remind"/>
<bpmn:sequenceFlow id="f5" sourceRef="note_remind" targetRef="reminded"/>
<bpmn:sequenceFlow id="f6" sourceRef="escalate" targetRef="note_escalate"/>
<bpmn:sequenceFlow id="f7" sourceRef="note_escalate" targetRef="escalated"/>
</bpmn:process></bpmn:definitions>'''


@pytest.fixture
def deadline_engine(database_url):
    """A bare engine (no domain) whose registry records what listeners and hooks see."""
    registry = Registry()
    seen = {"late": [], "committed": [], "hooks": []}
    registry.event("late")
    registry.effect("note_late", lambda engine, payload, effect: seen["committed"].append(payload["what"]))

    @registry.on("late")
    def on_late(event):
        seen["late"].append((event.data["what"], event.data["due"]))
        event.outbox("note_late", {"what": event.data["what"]})

    engine = Engine(make_config(database_url), registry)
    engine.deploy(PROCESS.encode())
    engine.seen = seen
    yield engine
    engine.close()


def _at(text):
    return dt.datetime.fromisoformat(text)


def _audit(engine, kind):
    with engine.db.read() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.kind == kind).order_by(AuditRecord.seq)))


def _timers(engine, instance_id):
    with engine.db.read() as session:
        return [(t.task_key, t.fire_at.isoformat(), t.state) for t in session.scalars(
            select(Timer).where(Timer.instance_id == instance_id).order_by(Timer.fire_at, Timer.task_key))]


def _work(engine, instance_id):
    [task] = [t for t in engine.tasks.inbox(SECRETARY, instance_id=instance_id)[0] if t.key == "work"]
    return task


@BOTH_DATABASES
def test_rescheduling_moves_the_due_time_and_the_waiting_timers(deadline_engine):
    engine = deadline_engine
    instance = engine.instances.start("deadline", {}, SECRETARY)
    work = _work(engine, instance.id)
    engine.tasks.reschedule(work.id, _at("2026-11-27T18:00:00+08:00"), SECRETARY, reason="more time")

    assert _work(engine, instance.id).due_at == _at("2026-11-27T18:00:00+08:00")
    assert _timers(engine, instance.id) == [("remind", "2026-11-27T01:00:00+00:00", "waiting"),
                                            ("escalate", "2026-11-27T10:00:00+00:00", "waiting")]
    engine.advance_clock(to="2026-11-25T18:00:01+08:00")  # the old times pass: nothing fires
    assert engine.seen["late"] == []
    engine.advance_clock(to="2026-11-27T18:00:01+08:00")
    assert engine.seen["late"] == [("remind", "2026-11-27T18:00:00+08:00"),
                                   ("escalate", "2026-11-27T18:00:00+08:00")]  # the branch sees the new due
    assert engine.seen["committed"] == ["remind", "escalate"]
    assert [(r.actor, r.data["previous_due"], r.data["due"], r.data["reason"])
            for r in _audit(engine, "task_rescheduled")] == [("sec", DUE, "2026-11-27T18:00:00+08:00", "more time")]
    assert engine.verify_audit()["ok"]


def test_fired_timers_are_armed_again_at_the_new_time(deadline_engine):
    engine = deadline_engine
    instance = engine.instances.start("deadline", {}, SECRETARY)
    engine.advance_clock(to="2026-11-25T18:00:01+08:00")
    assert [what for what, _ in engine.seen["late"]] == ["remind", "escalate"]
    engine.tasks.reschedule(_work(engine, instance.id).id, _at("2026-11-26T18:00:00+08:00"), SECRETARY)
    engine.advance_clock(to="2026-11-26T18:00:01+08:00")
    assert [what for what, _ in engine.seen["late"]] == ["remind", "escalate", "remind", "escalate"]
    engine.tasks.complete(_work(engine, instance.id).id, {}, SECRETARY)
    assert engine.instances.get(instance.id).status == "completed"


@BOTH_DATABASES
def test_a_due_date_timer_moved_before_the_worker_fired_it_fires_once_at_its_new_time(deadline_engine):
    """A date timer whose due time moves is rescheduled, not fired: only a cycle timer's
    occurrence fires when its fire_at moves on (exactly-once checks count timer_fired)."""
    engine = deadline_engine
    instance = engine.instances.start("deadline", {}, SECRETARY)
    engine.clock.advance(to=_at("2026-11-25T18:00:01+08:00"))  # both timers due; no worker ran
    engine.tasks.reschedule(_work(engine, instance.id).id, _at("2026-11-27T18:00:00+08:00"), SECRETARY)

    assert _audit(engine, "timer_fired") == [] and engine.seen["late"] == []
    assert _timers(engine, instance.id) == [("remind", "2026-11-27T01:00:00+00:00", "waiting"),
                                            ("escalate", "2026-11-27T10:00:00+00:00", "waiting")]
    engine.advance_clock(to="2026-11-27T18:00:01+08:00")
    assert engine.seen["late"] == [("remind", "2026-11-27T18:00:00+08:00"),
                                   ("escalate", "2026-11-27T18:00:00+08:00")]
    assert sorted((r.data["task"], _at(r.data["due"])) for r in _audit(engine, "timer_fired")) == [
        ("escalate", _at("2026-11-27T18:00:00+08:00")), ("remind", _at("2026-11-27T09:00:00+08:00"))]
    assert _timers(engine, instance.id) == [("remind", "2026-11-27T01:00:00+00:00", "fired"),
                                            ("escalate", "2026-11-27T10:00:00+00:00", "fired")]


def test_a_task_without_a_due_variable_or_no_longer_open_cannot_be_rescheduled(deadline_engine):
    engine = deadline_engine
    engine.deploy(PROCESS.replace('value="work_due"', 'value="work_due if work_due else None"')
                  .replace('id="deadline"', 'id="computed"').encode())
    computed = engine.instances.start("computed", {}, SECRETARY)
    with pytest.raises(Conflict, match="no due-date variable"):
        engine.tasks.reschedule(_work(engine, computed.id).id, _at("2026-11-27T18:00:00+08:00"), SECRETARY)
    instance = engine.instances.start("deadline", {}, SECRETARY)
    work = _work(engine, instance.id)
    engine.tasks.complete(work.id, {}, SECRETARY)
    with pytest.raises(Conflict):
        engine.tasks.reschedule(work.id, _at("2026-11-27T18:00:00+08:00"), SECRETARY)


def test_before_complete_hooks_refuse_or_change_the_same_unit_of_work(deadline_engine):
    engine = deadline_engine
    instance = engine.instances.start("deadline", {}, SECRETARY)
    work = _work(engine, instance.id)

    @engine.registry.before_complete("work")
    def hook(step):
        engine.seen["hooks"].append(step.data)
        if step.data.get("refuse"):
            raise InvalidInput("refused", details=[{"field": "refuse", "message": "no"}])

    version = engine.instances.get(instance.id).version
    with pytest.raises(InvalidInput):
        engine.tasks.complete(work.id, {"refuse": True}, SECRETARY)
    assert engine.instances.get(instance.id).version == version  # nothing written
    engine.tasks.complete(work.id, {"refuse": False}, SECRETARY)
    assert engine.seen["hooks"] == [{"refuse": True}, {"refuse": False}]


def test_listeners_and_hooks_reach_only_their_process_and_task(deadline_engine):
    engine, seen = deadline_engine, []
    engine.deploy(PROCESS.replace('id="deadline"', 'id="other"').encode())
    registry = engine.registry

    def record(name):
        return lambda event: seen.append((name, event.instance.definition_key, event.task_key))
    registry.on("task_completed", process="deadline", task="work")(record("deadline/work"))
    registry.on("task_completed", task="work")(record("any/work"))
    registry.on("task_completed", process="other")(record("other/any"))
    registry.on("task_completed", process="deadline", task="elsewhere")(record("deadline/elsewhere"))
    registry.on("instance_completed", process="other")(record("other ended"))
    registry.before_complete("work", process="other")(lambda step: seen.append(("hook", step.task.key)))
    with pytest.raises(ValueError):
        registry.on("instance_started", task="work")  # no task to scope to

    for key in ("deadline", "other"):
        instance = engine.instances.start(key, {}, SECRETARY)
        engine.tasks.complete(_work(engine, instance.id).id, {}, SECRETARY)
    assert seen == [("deadline/work", "deadline", "work"), ("any/work", "deadline", "work"),
                    ("hook", "work"),  # registration order, whatever the scope
                    ("any/work", "other", "work"), ("other/any", "other", "work"),
                    ("other ended", "other", None)]
    assert registry.completion_hooks("deadline", "work") == []


def test_undeclared_events_cannot_be_emitted_or_listened_to(deadline_engine):
    engine = deadline_engine
    with pytest.raises(ValueError):
        engine.registry.on("nobody_declared_this")
    with pytest.raises(ValueError):
        engine.registry.event("task_opened")
    engine.deploy(PROCESS.replace('emit("late"', 'emit("typo"').replace('id="deadline"', 'id="typo"').encode())
    instance = engine.instances.start("typo", {}, SECRETARY)
    engine.advance_clock(to="2026-11-25T18:00:01+08:00")
    assert engine.instances.get(instance.id).status == "error"
    assert "typo" in engine.instances.get(instance.id).error


DECISION = '''<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="size" namespace="http://t">
  <decision id="size" name="size">
    <decisionTable id="t" hitPolicy="UNIQUE">
      <input id="i" label="n"><inputExpression id="ie" typeRef="integer"><text>n</text></inputExpression></input>
      <output id="o" label="size" name="size" typeRef="string"/>
      <rule id="r1"><inputEntry id="e1"><text>&lt; 10</text></inputEntry><outputEntry id="o1"><text>SMALL</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="e2"><text>-</text></inputEntry><outputEntry id="o2"><text>"large"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>'''

DECIDING = HEAD + '''<bpmn:process id="deciding" isExecutable="true">
<bpmn:startEvent id="start"/>
<bpmn:userTask id="wait" name="Wait"/>
<bpmn:businessRuleTask id="decide"><bpmn:extensionElements>
  <spiffworkflow:calledDecisionId>size</spiffworkflow:calledDecisionId></bpmn:extensionElements></bpmn:businessRuleTask>
<bpmn:userTask id="look" name="Look"/>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="decide"/>
<bpmn:sequenceFlow id="f3" sourceRef="decide" targetRef="look"/>
<bpmn:sequenceFlow id="f4" sourceRef="look" targetRef="end"/>
</bpmn:process></bpmn:definitions>'''


def test_business_rule_tasks_evaluate_the_latest_decision(engine):
    with pytest.raises(InvalidDefinition, match="size"):
        engine.deploy(DECIDING.encode())  # a process needs its decision deployed first
    with pytest.raises(InvalidDefinition, match="DMN rule 1"):
        engine.deploy(DECISION.replace("SMALL", "__import__('os')").encode())
    engine.deploy(DECISION.replace("SMALL", '"small"').encode())
    engine.deploy(DECIDING.encode())
    before = engine.instances.start("deciding", {"n": 3}, SECRETARY)
    engine.deploy(DECISION.replace("SMALL", '"tiny"').encode())  # redeployed after the start
    after = engine.instances.start("deciding", {"n": 3}, SECRETARY)
    for instance in (before, after):
        [wait] = engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0]
        engine.tasks.complete(wait.id, {}, SECRETARY)
        assert engine.instances.get(instance.id).variables["size"] == "tiny"
