"""Durable timers across processes: ``duban worker`` subprocesses sharing one database.

Timers are made due for the workers without waiting: the creating engine runs a simulated
clock in January 2026 and each timer is due on 2 January, while the workers read the system
clock (later than that), so every timer is already due when a worker starts.
"""
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import AuditRecord, HumanTask, Instance, Timer
from tests.bpmn_snippets import chain, timer_wait, user_task
from tests.conftest import BOTH_DATABASES, SECRETARY

DUBAN = str(Path(sys.executable).parent / "duban")
POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
CREATOR_CLOCK = {"start": "2026-01-01T00:00:00+00:00"}
DUE = "'2026-01-02T00:00:00+00:00'"
DEADLINE = 300  # seconds before a wait is declared hung: a guard on a busy machine, not a measurement


@pytest.fixture
def workers(tmp_path):
    """Start ``duban worker`` processes; whatever is still running at the end is killed."""
    started = []

    def start(url, name, clock='mode = "system"', **scheduler):
        settings = {"interval_seconds": 0.2, **scheduler}
        config = tmp_path / f"{name}.toml"
        config.write_text(f'[database]\nurl = "{url}"\n[clock]\n{clock}\n[scheduler]\n'
                          + "".join(f"{key} = {value}\n" for key, value in settings.items()),
                          encoding="utf-8")
        env = {**os.environ, "DUBAN_CONFIG": str(config)}
        env.pop("DUBAN_DATABASE_URL", None)
        log = open(tmp_path / f"{name}.log", "w+", encoding="utf-8")
        process = subprocess.Popen([DUBAN, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        process.log = log
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.log.close()


def output(process):
    process.log.seek(0)
    return process.log.read()


def wait_until(condition, what, *processes):
    end = time.monotonic() + DEADLINE
    while not condition():
        for process in processes:
            assert process.poll() is None, f"worker exited ({process.returncode}):\n{output(process)}"
        assert time.monotonic() < end, f"not reached: {what}\n" + "\n".join(map(output, processes))
        time.sleep(0.05)


def stop(process):
    """SIGTERM: the worker finishes the instance at hand and exits 0."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, output(process)
    assert "stopped" in output(process)


def due_timers(engine, count):
    engine.deploy(chain("wait", timer_wait(1, DUE), user_task(2)))
    return [engine.instances.start("wait", {}, SECRETARY).id for _ in range(count)]


def count(engine, query):
    with engine.db.read() as session:
        return session.scalar(query)


def waiting(engine):
    return count(engine, select(func.count()).select_from(Timer).where(Timer.state == "waiting"))


def assert_fired_exactly_once(engine, instance_ids):
    with engine.db.read() as session:
        timers = list(session.scalars(select(Timer)))
        fired = Counter(session.scalars(select(AuditRecord.instance_id)
                                        .where(AuditRecord.kind == "timer_fired")))
        versions = Counter(session.scalars(select(Instance.version)))
        tasks = Counter(session.scalars(select(HumanTask.instance_id).where(HumanTask.key == "n2")))
    assert len(timers) == len(instance_ids) and {t.state for t in timers} == {"fired"}
    assert fired == Counter(instance_ids)  # one timer_fired audit record per timer
    assert versions == {2: len(instance_ids)}  # saved once at start, once by the firing
    assert tasks == Counter(instance_ids)  # each instance moved past its timer once
    return timers


@POSTGRESQL
def test_two_workers_fire_600_due_timers_exactly_once(engine_factory, workers, database_url):
    creator = engine_factory(clock=CREATOR_CLOCK)
    instance_ids = due_timers(creator, 600)

    began = time.monotonic()
    pair = [workers(database_url, f"w{n}", batch_size=25) for n in (1, 2)]
    wait_until(lambda: waiting(creator) == 0, "all 600 timers fired", *pair)
    elapsed = time.monotonic() - began
    for process in pair:
        stop(process)

    timers = assert_fired_exactly_once(creator, instance_ids)
    by_worker = Counter(t.lease_owner.split(":")[1] for t in timers)
    print(f"\n600 timers, 2 workers: {elapsed:.1f} s (from spawn), per worker pid {dict(by_worker)}")
    assert set(by_worker) == {str(p.pid) for p in pair}, "both workers took part"
    assert {t.attempts for t in timers} == {1}  # no lease lapsed, no retry
    assert creator.verify_audit()["ok"]


@POSTGRESQL
def test_killed_worker_leases_lapse_and_the_other_worker_fires_them_once(
        engine_factory, workers, database_url):
    creator = engine_factory(clock=CREATOR_CLOCK)
    instance_ids = due_timers(creator, 30)

    # The victim claims 10 timers, then sits on them (the pause knob), and is killed.
    victim = workers(database_url, "victim", batch_size=10, lease_seconds=2,
                     pause_after_claim_seconds=600)
    def held():
        return count(creator, select(func.count()).select_from(Timer).where(
            Timer.lease_owner.is_not(None)))
    wait_until(lambda: held() == 10, "the victim holds 10 leases", victim)
    with creator.db.read() as session:
        leases = {t.id: t.lease_until for t in session.scalars(
            select(Timer).where(Timer.lease_owner.is_not(None)))}
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    survivor = workers(database_url, "survivor")
    wait_until(lambda: waiting(creator) == 0, "the survivor fired every timer", survivor)
    stop(survivor)

    timers = assert_fired_exactly_once(creator, instance_ids)
    assert {t.lease_owner.split(":")[1] for t in timers} == {str(survivor.pid)}
    assert {t.id: t.attempts for t in timers if t.id in leases} == dict.fromkeys(leases, 2)
    assert {t.attempts for t in timers if t.id not in leases} == {1}
    with creator.db.read() as session:
        fired_at = {r.data["task"] + r.instance_id: r.at for r in session.scalars(
            select(AuditRecord).where(AuditRecord.kind == "timer_fired"))}
    by_timer = {t.id: fired_at["n1" + t.instance_id] for t in timers}
    assert all(by_timer[timer_id] > lease_until for timer_id, lease_until in leases.items()), \
        "the survivor waited for the victim's leases to lapse"
    assert creator.verify_audit()["ok"]


@BOTH_DATABASES
def test_worker_started_after_a_restart_fires_on_the_shared_simulated_clock(
        engine_factory, workers, database_url):
    first = engine_factory()
    first.deploy(chain("wait", timer_wait(1, "add_working_days(now(), 1)"), user_task(2)))
    instance = first.instances.start("wait", {}, SECRETARY)  # due Tue 09:00 +08:00
    first.close()  # the process that started it is gone

    worker = workers(database_url, "worker",
                     clock='mode = "simulated"\nstart = "2026-11-23T09:00:00+08:00"')
    wait_until(lambda: "firing timers" in output(worker), "the worker is up", worker)
    second = engine_factory()  # e.g. the API process, moving the shared clock only
    assert second.clock.now().isoformat() == "2026-11-23T01:00:00+00:00"
    second.clock.advance(to="2026-11-24T09:00:01+08:00")

    def fired():
        with second.db.read() as session:
            return session.scalar(select(Timer.state).where(Timer.instance_id == instance.id)) == "fired"
    wait_until(fired, "the worker fired the timer", worker)
    stop(worker)

    with second.db.read() as session:
        timer = session.scalar(select(Timer).where(Timer.instance_id == instance.id))
        record = session.scalar(select(AuditRecord).where(AuditRecord.kind == "timer_fired"))
    assert f":{worker.pid}:" in timer.lease_owner  # the worker process fired it ...
    assert record.at.isoformat() == "2026-11-24T01:00:01+00:00"  # ... at the shared simulated time
    assert [t.key for t in second.tasks.inbox(SECRETARY, instance_id=instance.id)[0]] == ["n2"]
    assert second.verify_audit()["ok"]
