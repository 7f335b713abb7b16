"""Durable timers in one process: the shared simulated clock, firing in due order, leases
that lapse, and failures that back off into incidents without blocking other timers."""
import datetime as dt

import pytest
from sqlalchemy import select

from engine.clock import SimulatedClock
from engine.errors import Conflict, InvalidInput
from engine.models import AuditRecord, Timer
from engine.registry import Registry
from engine.runtime import Engine
from tests.bpmn_snippets import chain, process, timer_after, timer_wait, user_task
from tests.conftest import BOTH_DATABASES, SECRETARY, START, make_config

UTC = dt.timezone.utc


def at(text):
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def timer_rows(engine):
    with engine.db.read() as session:
        return {row.instance_id: row for row in session.scalars(select(Timer))}


def fired_records(engine):
    with engine.db.read() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.kind == "timer_fired")
                                    .order_by(AuditRecord.seq)))


def waiting_for(key, expression="due"):
    """A process that waits for the timer ``expression`` (default: start variable ``due``)."""
    return chain(key, timer_wait(1, expression), user_task(2))


@BOTH_DATABASES
def test_simulated_clock_is_shared_and_never_goes_back(engine_factory):
    first, second = engine_factory(), engine_factory()
    assert first.clock.now() == second.clock.now() == at(START)

    first.clock.advance(seconds=3600)
    assert second.clock.now() == at(START) + dt.timedelta(hours=1)
    assert second.advance_clock(seconds=60) == first.clock.now() == at(START) + dt.timedelta(minutes=61)

    with pytest.raises(ValueError):
        first.clock.advance(to=at(START))
    with pytest.raises(InvalidInput):
        second.advance_clock(to=at(START))
    with pytest.raises(InvalidInput):
        second.advance_clock(to="2027-01-01T00:00:00")  # no UTC offset
    # A process started later with the configured start joins the shared time, not its start.
    assert engine_factory().clock.now() == at(START) + dt.timedelta(minutes=61)
    assert first.clock.now() == at(START) + dt.timedelta(minutes=61)


def test_the_system_clock_cannot_be_advanced(engine_factory):
    with pytest.raises(Conflict):
        engine_factory(clock={"mode": "system"}).advance_clock(seconds=60)


def test_in_memory_simulated_clock_still_works_alone():
    clock = SimulatedClock(START)
    assert clock.advance(seconds=90) == at(START) + dt.timedelta(seconds=90)
    with pytest.raises(ValueError):
        clock.advance(to=START)
    assert SimulatedClock(START).now() == at(START)  # nothing shared without a store


@BOTH_DATABASES
def test_advance_fires_in_due_order_including_timers_a_firing_creates(engine_factory):
    creator, advancer = engine_factory(), engine_factory()  # e.g. the API and a designer's run
    # "twice" waits until 10:00, then 30 minutes more (a timer its first firing creates).
    creator.deploy(chain("twice", timer_wait(1, "'2026-11-23T10:00:00+08:00'"),
                         timer_after(2, '"PT30M"'), user_task(3)))
    creator.deploy(waiting_for("once", "'2026-11-23T10:15:00+08:00'"))
    twice = creator.instances.start("twice", {}, SECRETARY)
    once = creator.instances.start("once", {}, SECRETARY)

    assert advancer.advance_clock(to="2026-11-23T11:00:00+08:00") == at("2026-11-23T11:00:00+08:00")
    assert creator.clock.now() == at("2026-11-23T11:00:00+08:00")

    fired = [(r.instance_id, r.data["task"], r.at) for r in fired_records(creator)]
    step = dt.timedelta(milliseconds=1)
    assert fired == [(twice.id, "n1", at("2026-11-23T10:00:00+08:00") + step),
                     (once.id, "n1", at("2026-11-23T10:15:00+08:00") + step),
                     (twice.id, "n2", at("2026-11-23T10:30:00.001+08:00") + step)]
    # each firing saw now() = its due moment (+1 ms): the 30 minutes count from 10:00:00.001
    assert [r.data["due"] for r in fired_records(creator)] == [
        str(at("2026-11-23T10:00:00+08:00")), str(at("2026-11-23T10:15:00+08:00")),
        str(at("2026-11-23T10:30:00.001+08:00"))]
    assert {t.key for t in creator.tasks.inbox(SECRETARY)[0]} == {"n3", "n2"}
    assert {row.state for row in timer_rows(creator).values()} == {"fired"}
    assert creator.timers.next_due() is None
    assert creator.verify_audit()["ok"]


@BOTH_DATABASES
def test_advance_stops_before_timers_due_at_or_after_the_target(engine):
    engine.deploy(waiting_for("wait"))
    instance = engine.instances.start("wait", {"due": "2026-11-23T10:00:00+08:00"}, SECRETARY)
    assert engine.advance_clock(to="2026-11-23T10:00:00+08:00") == at("2026-11-23T10:00:00+08:00")
    assert timer_rows(engine)[instance.id].state == "waiting"  # due < now, never due <= now
    engine.advance_clock(seconds=0.001)
    assert timer_rows(engine)[instance.id].state == "fired"


@BOTH_DATABASES
def test_cycle_timer_fires_each_occurrence_once_and_keeps_its_row_meanwhile(engine):
    engine.deploy(process("nagging", """<bpmn:startEvent id="start"/>
<bpmn:userTask id="work" name="Work"/>
<bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false">
  <bpmn:timerEventDefinition><bpmn:timeCycle>"R3/PT1H"</bpmn:timeCycle></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:endEvent id="end"/><bpmn:endEvent id="nagged"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
<bpmn:sequenceFlow id="f3" sourceRef="nag" targetRef="nagged"/>"""))
    instance = engine.instances.start("nagging", {}, SECRETARY)
    engine.advance_clock(seconds=2.5 * 3600)  # 10:00 and 11:00 (+08:00) fired, 12:00 next
    row = timer_rows(engine)[instance.id]
    assert (row.state, row.fire_at, row.attempts, row.lease_until) == (
        "waiting", at("2026-11-23T12:00:00+08:00"), 0, None)  # released, fresh count
    engine.advance_clock(seconds=5 * 3600)
    assert timer_rows(engine)[instance.id].state == "fired"  # the third and last occurrence
    assert [(r.data["due"], r.at) for r in fired_records(engine)] == [
        (str(at(f"2026-11-23T{hour}:00:00+08:00")), at(f"2026-11-23T{hour}:00:00.001+08:00"))
        for hour in (10, 11, 12)]
    assert [t.key for t in engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0]] == ["work"]


# -- failures ------------------------------------------------------------------------------------
SCHEDULER = {"backoff_seconds": 10, "backoff_max_seconds": 25, "max_attempts": 4}


@pytest.fixture
def flaky(database_url):
    """An engine whose ``timer_fired`` listener fails for business key 'bad' while ``broken``."""
    registry, state = Registry(), {"broken": True}

    @registry.on("timer_fired")
    def listener(event):
        if state["broken"] and event.instance.business_key == "bad":
            raise RuntimeError("listener broke")

    engine = Engine(make_config(database_url, scheduler=SCHEDULER), registry)
    engine.deploy(waiting_for("wait"))
    engine.state = state
    yield engine
    engine.close()


@BOTH_DATABASES
def test_failing_timer_backs_off_then_becomes_an_incident_without_blocking_others(flaky):
    engine = flaky
    bad = engine.instances.start("wait", {"due": "2026-11-23T10:00:00+08:00"}, SECRETARY,
                                 business_key="bad")
    good = engine.instances.start("wait", {"due": "2026-11-23T10:05:00+08:00"}, SECRETARY,
                                  business_key="good")
    engine.clock.advance(to=at("2026-11-23T10:10:00+08:00"))

    assert engine.timers.fire_due() == 1  # the bad one (due first) fails, the good one fires
    rows = timer_rows(engine)
    assert rows[good.id].state == "fired"
    delays = []
    for attempt in range(1, 4):
        row = timer_rows(engine)[bad.id]
        assert (row.state, row.attempts, row.lease_owner) == ("waiting", attempt, None)
        assert row.last_error == "RuntimeError: listener broke"
        delays.append((row.lease_until - engine.clock.now()).total_seconds())
        assert engine.timers.fire_due() == 0  # backing off: not claimed again yet
        engine.clock.advance(to=row.lease_until + dt.timedelta(milliseconds=1))
        assert engine.timers.fire_due() == 0  # claimed, failed again
    assert delays == [10, 20, 25]  # exponential from backoff_seconds, capped

    row = timer_rows(engine)[bad.id]
    assert (row.state, row.attempts, row.last_error) == ("incident", 4, "RuntimeError: listener broke")
    assert [incident.id for incident in engine.timers.incidents()] == [row.id]
    assert engine.instances.get(bad.id).status == "running"  # the rollbacks left it untouched
    engine.clock.advance(seconds=3600)
    assert engine.timers.fire_due() == 0  # an incident waits for a person

    engine.state["broken"] = False
    engine.timers.retry_incident(row.id)
    assert (timer_rows(engine)[bad.id].state, timer_rows(engine)[bad.id].attempts) == ("waiting", 0)
    assert engine.timers.fire_due() == 1
    assert timer_rows(engine)[bad.id].state == "fired"
    assert engine.timers.incidents() == []
    with engine.db.read() as session:
        kinds = [r.kind for r in session.scalars(select(AuditRecord).where(
            AuditRecord.instance_id == bad.id).order_by(AuditRecord.seq))]
    assert kinds == ["instance_started", "timer_incident", "timer_incident_retried", "timer_fired"]
    assert engine.verify_audit()["ok"]


@BOTH_DATABASES
def test_advance_steps_through_backoff_into_an_incident(flaky):
    engine = flaky
    bad = engine.instances.start("wait", {"due": "2026-11-23T10:00:00+08:00"}, SECRETARY,
                                 business_key="bad")
    later = engine.instances.start("wait", {"due": "2026-11-23T12:00:00+08:00"}, SECRETARY,
                                   business_key="good")
    engine.advance_clock(to="2026-11-23T13:00:00+08:00")
    rows = timer_rows(engine)
    assert (rows[bad.id].state, rows[bad.id].attempts) == ("incident", 4)
    assert rows[later.id].state == "fired"
    with engine.db.read() as session:
        incident = session.scalar(select(AuditRecord).where(AuditRecord.kind == "timer_incident"))
    # tries at 10:00:00.001, then +10 s, +20 s, +25 s (each just past its back-off)
    assert incident.at == at("2026-11-23T10:00:55.004+08:00")


@BOTH_DATABASES
def test_model_error_in_a_timer_is_the_instance_error_not_an_incident(engine):
    engine.deploy(chain("wait", timer_wait(1, "'2026-11-23T10:00:00+08:00'"),
                        '<bpmn:scriptTask id="n2"><bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask>'))
    instance = engine.instances.start("wait", {}, SECRETARY)
    engine.advance_clock(to="2026-11-23T11:00:00+08:00")
    assert engine.instances.get(instance.id).status == "error"
    assert timer_rows(engine)[instance.id].state == "fired"
    assert engine.timers.incidents() == []


# -- leases ----------------------------------------------------------------------------------------
@BOTH_DATABASES
def test_a_lapsed_lease_is_claimed_by_another_worker_and_fires_once(engine_factory):
    crashed, survivor = engine_factory(), engine_factory()  # two workers on one database
    crashed.deploy(waiting_for("wait"))
    instances = [crashed.instances.start("wait", {"due": f"2026-11-23T10:0{i}:00+08:00"}, SECRETARY)
                 for i in range(3)]
    crashed.clock.advance(to=at("2026-11-23T11:00:00+08:00"))

    batch = crashed.timers.claim()  # ... and then the worker stops dead
    assert len(batch.timers) == 3
    assert survivor.timers.fire_due() == 0  # held: not claimable
    survivor.timers.wall = SimulatedClock(batch.lease_end + dt.timedelta(seconds=1))  # lapsed
    assert survivor.timers.fire_due() == 3
    rows = timer_rows(survivor)
    assert {(r.state, r.attempts, r.lease_owner) for r in rows.values()} == {
        ("fired", 2, survivor.timers.owner)}

    # The first worker wakes up and fires its stale claims: the rows are no longer its own,
    # and the optimistic version check keeps the firing single.
    crashed.timers.fire(batch)
    assert sorted(r.instance_id for r in fired_records(survivor)) == sorted(i.id for i in instances)
    assert {t.key for t in survivor.tasks.inbox(SECRETARY)[0]} == {"n2"}
    assert survivor.verify_audit()["ok"]


@BOTH_DATABASES
def test_stopping_gives_back_claims_not_tried(engine_factory):
    engine = engine_factory(scheduler={"batch_size": 10})
    engine.deploy(waiting_for("wait"))
    for i in range(3):
        engine.instances.start("wait", {"due": "2026-11-23T10:00:00+08:00"}, SECRETARY)
    engine.clock.advance(to=at("2026-11-23T11:00:00+08:00"))
    batch = engine.timers.claim()
    engine.timers.stop()
    assert engine.timers.fire(batch).woken == 0
    assert {(r.state, r.attempts, r.lease_owner) for r in timer_rows(engine).values()} == {
        ("waiting", 0, None)}
    assert engine_factory().timers.fire_due() == 3


@BOTH_DATABASES
def test_a_timer_whose_workers_keep_dying_becomes_an_incident(engine_factory):
    engine = engine_factory(scheduler={"max_attempts": 2})
    engine.deploy(waiting_for("wait"))
    instance = engine.instances.start("wait", {"due": "2026-11-23T10:00:00+08:00"}, SECRETARY)
    engine.clock.advance(to=at("2026-11-23T11:00:00+08:00"))
    for _ in range(2):  # claimed, then the worker dies and its lease lapses
        batch = engine.timers.claim()
        assert len(batch.timers) == 1
        engine.timers.wall = SimulatedClock(batch.lease_end + dt.timedelta(seconds=1))
    assert engine.timers.fire_due() == 0
    row = timer_rows(engine)[instance.id]
    assert (row.state, row.attempts) == ("incident", 2)
    assert row.last_error.startswith("claimed 2 times without firing")
    assert engine.instances.get(instance.id).version == 1  # never fired


SERVICE_WITH_RETRY = ('<bpmn:serviceTask id="n1"><bpmn:extensionElements>'
                      '<spiffworkflow:serviceTaskOperator id="office.ping" resultVariable="answer">'
                      '<spiffworkflow:parameters/><spiffworkflow:retry retries="{retries}" backoff_base="60"/>'
                      '</spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>')


def _flaky_service(engine, failures):
    calls = []

    def ping():
        calls.append(engine.clock.now())
        if len(calls) <= failures:
            raise ConnectionError("registry office unreachable")
        return {"ok": True}
    engine.registry.services["office.ping"] = ping
    return calls


@BOTH_DATABASES
def test_service_task_retries_with_backoff_then_succeeds(engine):
    from tests.bpmn_snippets import chain, user_task
    from tests.conftest import SECRETARY

    calls = _flaky_service(engine, failures=2)
    engine.deploy(chain("svc", SERVICE_WITH_RETRY.format(retries=3), user_task(2)))
    instance = engine.instances.start("svc", {}, SECRETARY)
    assert instance.status == "error"
    engine.advance_clock(seconds=59)
    assert len(calls) == 1                                   # the first retry waits 60 s
    engine.advance_clock(seconds=2)
    assert len(calls) == 2 and engine.instances.get(instance.id).status == "error"
    engine.advance_clock(seconds=121)                        # the second waits 120 s
    assert len(calls) == 3
    fixed = engine.instances.get(instance.id)
    assert fixed.status == "running" and fixed.variables["answer"] == {"ok": True}
    gaps = [(b - a).total_seconds() for a, b in zip(calls, calls[1:])]
    assert gaps[0] >= 60 and gaps[1] >= 120


@BOTH_DATABASES
def test_service_task_retries_run_out_into_an_incident(engine):
    from sqlalchemy import select

    from engine.models import AuditRecord
    from tests.bpmn_snippets import chain, user_task
    from tests.conftest import SECRETARY

    calls = _flaky_service(engine, failures=99)
    engine.deploy(chain("svc", SERVICE_WITH_RETRY.format(retries=2), user_task(2)))
    instance = engine.instances.start("svc", {}, SECRETARY)
    engine.advance_clock(seconds=3600)
    assert len(calls) == 3                                   # the first try and two retries
    stuck = engine.instances.get(instance.id)
    assert stuck.status == "error" and "unreachable" in stuck.error
    with engine.db.read() as session:
        kinds = session.scalars(select(AuditRecord.kind).where(
            AuditRecord.instance_id == instance.id).order_by(AuditRecord.seq)).all()
    assert kinds.count("service_retry_scheduled") == 2 and kinds[-1] == "service_retries_exhausted"
