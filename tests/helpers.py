"""Shared helpers for driving the supervision loop through the engine's Python API."""
from sqlalchemy import func, select

from engine.models import AuditRecord, HumanTask, Instance, Timer
from workflows.supervision.items import create_item

PLAN = {"owner": "zhang", "milestones": [{"date": "2026-12-15", "target": "方案落地"}],
        "measures": "专班推进", "expected_result": "按期完成"}
REPORT = {"progress": 40, "summary": "推进中", "done": False}
DONE_REPORT = {"progress": 100, "summary": "已完成", "done": True, "completion_report": "办结报告"}
ITEM = {"title": "推进政务服务一网通办", "basis": "meeting_decision", "department": "d1",
        "co_departments": ["d2"], "leader": "boss", "deadline": "2026-12-31",
        "requirements": "每周五前反馈进展"}


def new_item(engine, actor, **changes):
    return create_item(engine, {**ITEM, **changes}, actor)


def open_task(engine, actor, key, item_id=None):
    rows, _ = engine.tasks.inbox(actor, business_key=item_id)
    matches = [row for row in rows if row.key == key]
    assert matches, f"{actor.username} has no open {key}; inbox: {[r.key for r in rows]}"
    return matches[0]


def complete(engine, actor, key, data, item_id=None):
    task = open_task(engine, actor, key, item_id)
    return engine.tasks.complete(task.id, data, actor)


def snapshot(engine, instance_id=None):
    """Everything a refused command must leave unchanged."""
    with engine.db.read() as session:
        instances = [(i.id, i.version, i.status, i.state) for i in
                     session.scalars(select(Instance).order_by(Instance.id))]
        tasks = [(t.id, t.state, t.assignee, t.completed_by) for t in
                 session.scalars(select(HumanTask).order_by(HumanTask.id))]
        timers = [(t.id, t.state) for t in session.scalars(select(Timer).order_by(Timer.id))]
        audit = session.scalar(select(func.count()).select_from(AuditRecord))
    return {"instances": instances, "tasks": tasks, "timers": timers, "audit": audit}
