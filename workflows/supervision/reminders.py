"""Reminders (催办): before a step falls due, the people who must do it are reminded.

The diagram's reminder timers (``last_working_day_start(<due>)``, non-interrupting) lead to
a script that raises ``emit("reminder", {"task": <task key>, "due": <due>})``; the listener
here (registered for both record processes: items and problems) notifies the open step's assignee, or
else every user of its role and department, in the same transaction as the timer's firing.
"""
from sqlalchemy import select

from engine.clock import parse_moment
from engine.models import HumanTask
from workflows.records import RECORD_PROCESSES, keyed, record_of
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
    if task is None:  # completed meanwhile: nobody to remind
        return
    record = record_of(session, event.instance)
    noun = "督办事项" if isinstance(record, Item) else "整改问题"
    due = event.engine.calendar.local(parse_moment(event.data["due"]))
    users = recipients(session, event.engine.registry.directory, task)
    notify(event, users, "reminder", f"催办：{record.code}「{task.title}」今日到期",
           f"{noun}「{record.title}」的「{task.title}」应于 {due:%Y-%m-%d %H:%M} 前完成，请抓紧办理。",
           task_id=task.id)
    event.audit("reminder_sent", {"task": task.key, "task_id": task.id, "due": due.isoformat(), "to": users})


def register(registry):
    registry.event("reminder")
    for process in RECORD_PROCESSES:
        registry.on("reminder", process=process)(keyed(on_reminder))
