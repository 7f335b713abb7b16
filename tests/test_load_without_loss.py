"""Load without loss (issue 14, part 5), the lean form of ``python -m bench.soak``.

``duban serve`` (2 processes) and a ``duban worker`` on the test PostgreSQL database; 4
concurrent clients work the supervision loop over HTTP through 2 simulated weeks of
registrations (and up to 4 more for every item to close) while an admin advances the clock day
by day and the worker is SIGKILLed twice and restarted. Then every invariant of
``bench.soak.check`` must hold: the audit history matches the task history, no task completed
and no timer fired twice, nothing due left waiting, the audit chain verifies, no request failed
(409s from races are expected and only counted), and every outbox row is done with each
webhook push received (``bench.soak.check_outbox``, skipped only on a database without an
``outbox`` table). The second test
makes each loss and doubling by hand and sees the check report it (both databases).
"""
import datetime as dt

import pytest
from sqlalchemy import func, select, update

from bench import soak
from engine.models import AuditRecord, Timer
from tests.conftest import BOTH_DATABASES, SECRETARY, STAFF
from tests.helpers import PLAN, complete, new_item

POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
OVERDUE = "2026-11-25T18:00:01+08:00"  # just past the plan due time (Wed 18:00) of items made Mon 09:00


@POSTGRESQL
def test_concurrent_clients_and_two_worker_kills_lose_and_double_nothing(database_url, tmp_path):
    figures = soak.run(database_url, tmp_path, **soak.LEAN, log=lambda *_: None)
    print("\n" + soak.report(figures))

    assert figures["problems"] == []
    assert figures["kills"] == 2 and figures["worker_runs"] == 3
    # The run did what it is for: items went round the loop, people raced, timers fired.
    assert figures["items"] >= 8
    assert figures["completions"] == figures["tasks_completed"] == figures["task_completed_records"]
    assert figures["late_on_purpose"] > 0
    assert {"remind_plan", "escalate_plan"} <= set(figures["fired_by_key"])  # item 0's plan at least
    assert figures["timers_fired"] == figures["timer_fired_records"] > 0
    assert figures["audit_verify"]["ok"]
    outbox = figures["outbox"]  # every effect here is a webhook push, and each one is done
    assert outbox["rows"] == {"done": outbox["webhook_pushes"]} and outbox["webhook_pushes"] > 0


@BOTH_DATABASES
def test_the_check_finds_a_doubled_completion_a_doubled_firing_and_a_lost_one(supervision):
    """The soak's check is only worth its green if it can go red: each kind of loss or
    doubling it looks for, made by hand, is reported."""
    engine = supervision
    item = new_item(engine, SECRETARY)
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    other = new_item(engine, SECRETARY)
    engine.advance_clock(to=OVERDUE)  # the other plan's reminder and escalation fire
    now = engine.clock.now()
    assert soak.check(engine.db, now)[0] == []

    with engine.db.write() as session:
        records = {r.data["task"]: r for r in session.scalars(select(AuditRecord).where(
            AuditRecord.kind.in_(("task_completed", "timer_fired"))))}
        top = session.scalar(select(func.max(AuditRecord.seq)))
        for n, copy in enumerate((records["draft_plan"], records["escalate_plan"]), start=1):
            session.add(AuditRecord(seq=top + n, at=copy.at, actor=copy.actor, kind=copy.kind,
                                    instance_id=copy.instance_id, business_key=copy.business_key,
                                    data=copy.data, prev_hash=copy.hash, hash=copy.hash))
        remind = session.scalar(select(Timer).where(Timer.instance_id == other.instance_id,
                                                    Timer.task_key == "remind_plan"))
        session.execute(update(Timer).where(Timer.id == remind.id).values(state="waiting"))
    problems = soak.check(engine.db, now)[0]

    task_id = records["draft_plan"].data["task_id"]
    due = dt.datetime.fromisoformat(records["escalate_plan"].data["due"]).astimezone(dt.timezone.utc)
    assert problems[:2] == [f"task {task_id} has 2 task_completed records",
                            f"item {item.id}: 2 task_completed records, 1 completed tasks"]
    assert problems[2] == (f"timer escalate_plan of instance {other.instance_id} "
                           f"due {due:%Y-%m-%d %H:%M:%S} UTC fired 2 times")
    assert problems[3] == (f"timer_fired record of remind_plan of instance {other.instance_id} "
                           "matches no fired timer row")
    assert problems[4].startswith(f"timer {remind.id} (remind_plan) is waiting, due ")
    assert len(problems) == 5, problems
