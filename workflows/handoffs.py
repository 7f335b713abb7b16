"""Handoffs (交办): whoever must act on a new step is told, and a closed record's notices are done.

**The rule.** Every human task a command opens, in every process (立项交办's ``draft_plan`` for
the lead and co departments, ``approve_plan`` for the leader, ``recheck`` / ``file_plan`` /
``confirm_close`` for the secretariat, ``handle_escalation`` for the supervisors, a
rectification's steps, a 计划调整 or 延期 approval), notifies its candidates — the assignee (or the
diagram's user), else the active users with its role in its department, resolved through the
directory (:func:`workflows.supervision.notifications.recipients`) — and, for a step open to
a department's staff (not assigned to one person), that department's leaders too — in the command's
own transaction, kind ``task_opened``, pushed on every configured channel through the outbox.

**Exceptions.** Someone a listener of the same command already notified about this very task
is not told twice: a returned step's redoers get the 退回 notice (``workflows.returns``), the
supervisors the 逾期督办 notice (``escalations``), the leader the 延期申请 notice
(``extensions``). Those listeners run first (``task_completed`` before ``task_opened``; the
domains register before this module), so the rule reads who the command has told about the
task (``notifications.told_about``: tracked by the command's session, no query — a task opened
by this command has no older notice). A task nobody may work (no candidate resolves to an
active user) notifies nobody.

**Cost** (issue 18): this runs for every opened task, so it reads no more than it must. The
task row is the one the unit of work just wrote (in the session's identity map, no query), the
candidates come from the directory (cached briefly, ``api.directory``), and the record is read
only when somebody is to be told.

**Closing.** When a supervision item or a rectification problem ends (completed or cancelled),
every unread notification of it is marked read in that transaction: no reminder stays unread
for a closed record. A public complaint is not a process: its intake notifies the secretariat
(``workflows.complaints.intake``) and its triage or dismissal closes those notices.
"""
from engine.models import HumanTask
from engine.roles import LEADER, STAFF
from workflows import access
from workflows.records import keyed
from workflows.supervision.notifications import close_item, local_time, notify, recipients, told_about

KIND = "task_opened"
RECORD_PROCESSES = ("supervision", "rectification")


def on_task_opened(event):
    session = event.session
    task = session.get(HumanTask, event.task_id)
    if task is None:
        return
    # A task without a business key has no record, and no listener of ours notifies about it.
    told = told_about(session, task.business_key, task.id) if task.business_key else set()
    directory = event.engine.registry.directory
    users = [u for u in [*recipients(session, directory, task), *_department_leaders(session, directory, task)]
             if u not in told]
    if not users:
        return
    record = access.task_record(session, task)
    named = f"{record.code}「{task.title}」" if record is not None else f"「{task.title}」"
    about = f"「{record.title}」" if record is not None else "流程"
    due = f"，办理期限 {local_time(event, task.due_at)}" if task.due_at else ""
    notify(event, users, KIND, f"待办：{named}",
           f"{about}有新的待办「{task.title}」交由您办理{due}。", task_id=task.id)


def _department_leaders(session, directory, task):
    """A step for a department's staff (not yet assigned) is also its leaders' to know of: 交办
    goes to the department, whose leaders answer for it. Other roles' steps (the secretariat's,
    the supervisors') go to those roles only."""
    if task.assignee or task.candidate_user or not task.candidate_department or task.candidate_role != STAFF:
        return []
    return directory.users(session, role=LEADER, department=task.candidate_department)


def on_record_ended(event):
    close_item(event.session, event.instance.business_key, event.at)


def register(registry):
    registry.on("task_opened")(on_task_opened)
    for process in RECORD_PROCESSES:
        registry.on("instance_completed", process=process)(keyed(on_record_ended))
        registry.on("instance_cancelled", process=process)(keyed(on_record_ended))
