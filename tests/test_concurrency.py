"""Two people complete one task at the same moment: one wins, the other gets a conflict."""
import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import func, select, update

from engine.errors import Conflict, StaleInstance
from engine.models import AuditRecord, HumanTask, Instance
from engine.actor import Actor
from tests.conftest import BOTH_DATABASES, LEADER, SECRETARY, STAFF
from tests.helpers import PLAN, complete, new_item, open_task, snapshot

COLLEAGUE = Actor("li", frozenset({"staff"}), "d1")


def _race(engine, task_id, actors):
    barrier = threading.Barrier(len(actors))
    outcomes = {}

    def attempt(actor):
        barrier.wait()
        try:
            engine.tasks.complete(task_id, PLAN, actor)
            outcomes[actor.username] = "ok"
        except Conflict as err:
            outcomes[actor.username] = type(err).__name__
    threads = [threading.Thread(target=attempt, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@BOTH_DATABASES
@pytest.mark.parametrize("round_", range(3))
def test_concurrent_completions_one_wins(supervision, round_):
    engine = supervision
    item = new_item(engine, SECRETARY)
    task = open_task(engine, STAFF, "draft_plan", item.id)
    outcomes = _race(engine, task.id, [STAFF, COLLEAGUE])
    assert sorted(outcomes.values()).count("ok") == 1, outcomes
    assert set(outcomes.values()) - {"ok"} <= {"Conflict", "StaleInstance"}

    with engine.db.read() as session:
        row = session.get(HumanTask, task.id)
        approvals = session.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.business_key == item.id, HumanTask.key == "approve_plan"))
        completions = session.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.business_key == item.id, AuditRecord.kind == "task_completed"))
        instance = session.get(Instance, item.instance_id)
    winner = next(name for name, outcome in outcomes.items() if outcome == "ok")
    assert row.state == "completed" and row.completed_by == winner
    assert approvals == 1 and completions == 1
    assert instance.status == "running" and instance.version == 2
    assert engine.verify_audit()["ok"]


@BOTH_DATABASES
def test_stale_save_is_refused_and_changes_nothing(supervision, monkeypatch):
    """Deterministic race: another command saves between our load and our save."""
    engine = supervision
    item = new_item(engine, SECRETARY)
    task = open_task(engine, STAFF, "draft_plan", item.id)
    real_write = engine.uow._write

    def write_after_a_rival(ctx, new):
        monkeypatch.setattr(engine.uow, "_write", real_write)
        engine.tasks.complete(task.id, PLAN, COLLEAGUE)  # the rival wins
        real_write(ctx, new)
    monkeypatch.setattr(engine.uow, "_write", write_after_a_rival)
    with pytest.raises(StaleInstance):
        engine.tasks.complete(task.id, PLAN, STAFF)
    with engine.db.read() as session:
        row = session.get(HumanTask, task.id)
        completions = session.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.kind == "task_completed"))
    assert row.completed_by == "li" and completions == 1


@BOTH_DATABASES
def test_items_registered_at_once_get_distinct_codes(supervision):
    """Concurrent registrations allocate DB-<year>-<seq> one after the other (found by `make bench`)."""
    engine = supervision
    barrier = threading.Barrier(6)
    codes, failures = [], []

    def register(n):
        barrier.wait()
        try:
            codes.append(new_item(engine, SECRETARY, title=f"并发立项 {n}").code)
        except Exception as err:  # noqa: BLE001 — any failure is the finding
            failures.append(repr(err))
    threads = [threading.Thread(target=register, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(codes) == [f"DB-2026-{n:04d}" for n in range(1, 7)]


@BOTH_DATABASES
def test_a_task_read_open_but_gone_from_its_instance_is_a_conflict(supervision):
    """The race the soak (tests/test_load_without_loss.py) met on PostgreSQL: ``complete`` read
    the task row while open, then the instance after a rival had completed that task and the
    process had moved on, compacting the finished task out of the tree (READ COMMITTED: each
    statement sees its own snapshot). The row is put back to what the reader saw; the answer is
    409, never a 500, and nothing changes (so for
    moving its due time)."""
    engine = supervision
    item = new_item(engine, SECRETARY)
    draft = open_task(engine, STAFF, "draft_plan", item.id)
    engine.tasks.complete(draft.id, PLAN, COLLEAGUE)
    complete(engine, LEADER, "approve_plan", {"approved": True}, item.id)
    complete(engine, SECRETARY, "file_plan", {"note": "备案"}, item.id)
    with engine.db.read() as session:
        instance = session.get(Instance, item.instance_id)
    assert uuid.UUID(draft.id) not in engine.uow.load(instance).tasks  # compacted away
    with engine.db.write() as session:
        session.execute(update(HumanTask).where(HumanTask.id == draft.id).values(
            state="open", completed_at=None, completed_by=None))
    before = snapshot(engine)

    with pytest.raises(Conflict) as refused:
        engine.tasks.complete(draft.id, PLAN, STAFF)
    assert refused.value.reason == "task_closed"
    with pytest.raises(Conflict) as refused:  # moving its due time: the same lookup, the same answer
        engine.tasks.reschedule(draft.id, engine.clock.now() + dt.timedelta(days=3), SECRETARY)
    assert refused.value.reason == "task_closed"
    assert snapshot(engine) == before
