"""Reminders (催办): before a step falls due, the people who must do it are reminded.

The diagram's reminder timers (``last_working_day_start(<due>)``, non-interrupting) lead to
a script that raises ``emit("reminder", {"task": <task key>, "due": <due>})``; the listener
here notifies the open step's assignee, or else every user of its role and department, in
the same transaction as the timer's firing.
"""
from sqlalchemy import select

from engine.clock import parse_moment
from engine.models import HumanTask
from workflows.supervision.models import Item
from workflows.supervision.notifications import notify, recipients


def open_step(session, instance_id, task_key):
    """The open task ``task_key`` of an instance (the latest, should a loop have left two)."""
    return session.scalar(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.key == task_key, HumanTask.state == "open")
        .order_by(HumanTask.created_at.desc(), HumanTask.id).limit(1))


def on_reminder(event):
    session = event.session
    task = open_step(session, event.instance.id, event.data.get("task"))
    item = session.get(Item, event.instance.business_key) if event.instance.business_key else None
    if task is None or item is None:
        return
    due = event.engine.calendar.local(parse_moment(event.data["due"]))
    users = recipients(session, event.engine.registry.directory, task)
    notify(event, users, "reminder", f"催办：{item.code}「{task.title}」今日到期",
           f"督办事项「{item.title}」的「{task.title}」应于 {due:%Y-%m-%d %H:%M} 前完成，请抓紧办理。",
           task_id=task.id)
    event.engine.audit.append(session, "reminder_sent", actor=event.actor.username,
                              instance_id=event.instance.id, business_key=item.id,
                              data={"task": task.key, "task_id": task.id, "due": due.isoformat(),
                                    "to": users})


def register(registry):
    registry.event("reminder")
    registry.on("reminder")(on_reminder)
