"""Returns (退回): a step sent back by whoever decides on it, and what its redoers are shown.

In the shipped processes a deciding step whose verdict is not true sends the work back along
the diagram's loop to an earlier step, which opens again for the same department:

=============  ========================  ==============  ===============================
process        deciding step             reason field    step that opens again
=============  ========================  ==============  ===============================
supervision    approve_plan 审定工作计划   comment         draft_plan 制定工作计划
supervision    recheck 复查核实            findings        report_progress 进度反馈
rectification  review_rectification_plan  comment        submit_rectification_plan
               审定整改方案
rectification  verify_rectification 验收  findings        submit_rectification_report
=============  ========================  ==============  ===============================

(A refused 计划调整 or 延期申请 is its own short instance and opens nothing again: its requester
is told by the request's own listener.)

Where a return lives: when a deciding step is completed with its verdict not true, its listener
writes a ``task_return`` row for the step it opened again — in the same transaction, so the
mark exists exactly when the return does — naming the decision, who and when, the reason, and
the redo step's previous completion (its data is the prefill). Reading is one indexed query by
task id (an inbox page: one query whatever its length), never a workflow load. Why a row and
not an inference from ``human_task`` times: a simulated clock that stands still gives the
decision and both submissions one instant, so times cannot tell a return from the next weekly
report; the unit of work that completes the decision knows.

Trade-off: the rules are declared here, not read from the diagram's gateways; a redesigned
process that adds a return path needs a row in :data:`RULES` (its redo step still works,
only without the 退回 mark, the notice and the prefill).
"""
import dataclasses
import datetime as dt

from sqlalchemy import select

from engine.models import AuditRecord, HumanTask
from workflows import access
from workflows.supervision.models import TaskReturn
from workflows.supervision.notifications import notify, recipients


@dataclasses.dataclass(frozen=True)
class Rule:
    process: str    # the process key
    decision: str   # the deciding step's task key
    verdict: str    # its boolean field: anything but ``true`` sends the work back
    reason: str     # its field that says why
    redo: str       # the step that opens again


RULES = (
    Rule("supervision", "approve_plan", "approved", "comment", "draft_plan"),
    Rule("supervision", "recheck", "passed", "findings", "report_progress"),
    Rule("rectification", "review_rectification_plan", "approved", "comment", "submit_rectification_plan"),
    Rule("rectification", "verify_rectification", "passed", "findings", "submit_rectification_report"),
)


@dataclasses.dataclass(frozen=True)
class Returned:
    """Why an open task is a redo: who sent it back, when, why, from which step, and (when
    asked for) the data last submitted for this step of this item or problem."""

    by: str                    # username of who decided
    at: dt.datetime            # when the deciding step was completed
    reason: str                # the deciding step's reason field ('' when left empty)
    step: str                  # the deciding step's title
    previous: dict | None = None


def returned(session, task):
    """A :class:`Returned` with ``previous`` for ``task`` (a ``HumanTask``) when it is open and
    was sent back, else None."""
    return returned_tasks(session, [task], previous=True).get(task.id)


def returned_tasks(session, tasks, previous=False):
    """``{task id: Returned}`` for the open, sent-back ones among ``tasks``: one indexed read
    (two with ``previous``, which also reads each one's last submitted data)."""
    ids = [t.id for t in tasks if t.state == "open"]
    if not ids:
        return {}
    marks = list(session.scalars(select(TaskReturn).where(TaskReturn.task_id.in_(ids))))
    before = {}
    wanted = {m.previous_task_id for m in marks if m.previous_task_id}
    if previous and wanted:
        before = dict(session.execute(
            select(HumanTask.id, HumanTask.data).where(HumanTask.id.in_(wanted))).all())
    return {m.task_id: Returned(by=m.returned_by, at=m.returned_at, reason=m.reason, step=m.step,
                                previous=dict(before.get(m.previous_task_id) or {}) if previous else None)
            for m in marks}


# -- a return: the mark and the notice to who must redo it ----------------------------------------
def _last_submission(session, instance_id, key):
    """The id of the latest completion of step ``key`` in the instance, by the audit chain's
    order (times may tie under a standing simulated clock; ``seq`` never does)."""
    for record in session.scalars(select(AuditRecord).where(
            AuditRecord.instance_id == instance_id, AuditRecord.kind == "task_completed")
            .order_by(AuditRecord.seq.desc())):
        if (record.data or {}).get("task") == key:
            return record.data.get("task_id")
    return None


def on_decided(rule):
    """The listener of ``rule``'s deciding step: on a return, mark the step it opened again and
    tell that step's candidates (in-app, and pushed where configured), all in the return's
    transaction."""
    def listener(event):
        if event.data.get(rule.verdict) is True:
            return
        session = event.session
        # the redo step this very command opened (its rows carry the command's one instant)
        task = session.scalar(select(HumanTask).where(
            HumanTask.instance_id == event.instance.id, HumanTask.key == rule.redo,
            HumanTask.state == "open", HumanTask.created_at == event.at).limit(1))
        if task is None:
            return  # the diagram did not loop back here (a redesigned process): nothing to mark
        decision = session.get(HumanTask, event.task_id)
        mark = TaskReturn(task_id=task.id, instance_id=event.instance.id, decision_task_id=event.task_id,
                          step=(decision.title if decision is not None else None) or rule.decision,
                          returned_by=event.actor.username, returned_at=event.at,
                          reason=str(event.data.get(rule.reason) or ""),
                          previous_task_id=_last_submission(session, event.instance.id, rule.redo))
        session.add(mark)
        _notify(event, task, mark)
    return listener


def _notify(event, task, mark):
    session = event.session
    record = access.task_record(session, task)
    directory = event.engine.registry.directory
    person = directory.person(session, mark.returned_by)
    name = person.display_name if person is not None else mark.returned_by
    at = event.engine.calendar.local(mark.returned_at)
    code = f"{record.code}「{task.title}」" if record is not None else f"「{task.title}」"
    reason = f"：{mark.reason}" if mark.reason else "（未填写理由）"
    notify(event, recipients(session, directory, task), "returned", f"已退回：{code}",
           f"{name} 于 {at:%Y-%m-%d %H:%M} 在「{mark.step}」退回{reason}。"
           "请修改后重新提交，表单已保留上次填写的内容。", task_id=task.id)


def register(registry):
    for rule in RULES:
        registry.on("task_completed", process=rule.process, task=rule.decision)(on_decided(rule))
