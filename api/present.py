"""Rows → the contract's JSON shapes (one place, so every endpoint answers alike)."""
from workflows import inbox, lights
from workflows.supervision import management


def iso(value):
    return value.isoformat() if value is not None else None


class Presenter:
    """Bound to one request's clock reading, so every light in a response agrees."""

    def __init__(self, engine):
        self.engine = engine
        self.now, self.warning_limit = lights.thresholds(engine.calendar, engine.clock.now())

    def light(self, task):
        return lights.light(task.due_at, self.now, self.warning_limit) if task.state == "open" else "green"

    def working_days_left(self, task):
        """Of an open task: working days to its due date (negative once overdue), else None."""
        if task.state != "open":
            return None
        return inbox.working_days_left(self.engine.calendar, task.due_at, self.now)

    def task(self, row, returns=None):
        """``returns``: ``{task id: workflows.returns.Returned}`` where the caller read them (the
        inbox, a task): then ``returned`` is that object or None; elsewhere the key is left out."""
        body = {
            "id": row.id, "key": row.key, "title": row.title, "item_id": row.business_key,
            "instance_id": row.instance_id, "lane": row.lane,
            "assignee": row.assignee or row.candidate_user,
            "candidate_department": row.candidate_department, "candidate_role": row.candidate_role,
            "state": row.state, "created_at": iso(row.created_at), "due_at": iso(row.due_at),
            "light": self.light(row), "completed_at": iso(row.completed_at),
            "completed_by": row.completed_by, "working_days_left": self.working_days_left(row),
        }
        if returns is not None:
            body["returned"] = self.returned(returns.get(row.id))
        return body

    @staticmethod
    def returned(back):
        if back is None:
            return None
        body = {"by": back.by, "at": iso(back.at), "reason": back.reason, "step": back.step}
        if back.previous is not None:
            body["previous"] = back.previous
        return body

    def item(self, item, open_tasks=()):
        tasks = [self.task(t) for t in open_tasks]
        return {
            "id": item.id, "code": item.code, "title": item.title, "basis": item.basis,
            "department": item.department, "co_departments": list(item.co_departments or []),
            "leader": item.leader, "deadline": iso(item.deadline), "requirements": item.requirements,
            "status": item.status, "light": lights.worst(t["light"] for t in tasks),
            "instance_id": item.instance_id, "created_at": iso(item.created_at),
            "created_by": item.created_by, "closed_at": iso(item.closed_at), "rating": item.rating,
            "rebounds": item.rebounds or 0,
            "current_step": tasks[0]["title"] if tasks else None, "open_tasks": tasks,
            "doc_number": management.doc_number(item), "key": bool(item.is_key),
            "campaign_id": item.campaign_id, "category_id": item.category_id,
        }

    def problem(self, problem, open_tasks=()):
        tasks = [self.task(t) for t in open_tasks]
        return {
            "id": problem.id, "code": problem.code, "title": problem.title,
            "description": problem.description, "source": problem.source,
            "department": problem.department, "deadline": iso(problem.deadline),
            "status": problem.status, "light": lights.worst(t["light"] for t in tasks),
            "current_step": "、".join(t["title"] or t["key"] for t in tasks) or None,
            "instance_id": problem.instance_id, "complaint_id": problem.complaint_id,
            "campaign_id": problem.campaign_id, "category_id": problem.category_id,
            "requirements": problem.requirements, "handed_over_at": iso(problem.handed_over_at),
            "plan": problem_plan(problem),
            "created_at": iso(problem.created_at), "created_by": problem.created_by,
            "closed_at": iso(problem.closed_at), "rebounds": problem.rebounds or 0, "open_tasks": tasks,
        }


def problem_plan(problem):
    """A problem's rectification plan as submitted (None before one is), with its review state."""
    if not problem.plan_submitted_at:
        return None
    return {"owner": problem.plan_owner, "measures": problem.plan_measures,
            "deadline": iso(problem.plan_deadline), "cause_analysis": problem.plan_cause_analysis,
            "goal": problem.plan_goal, "milestones": problem.plan_milestones,
            "state": problem.plan_state, "needs_extension": bool(problem.plan_needs_extension),
            "submitted_at": iso(problem.plan_submitted_at)}


def audit(record):
    return {"seq": record.seq, "at": iso(record.at), "actor": record.actor, "kind": record.kind,
            "item_id": record.business_key, "instance_id": record.instance_id,
            "data": record.data or {}, "hash": record.hash}


ADOPTED_PLAN_STATES = ("approved", "filed", "changed")


def current_plan(plans):
    """Of an item's plans (oldest first), the one in force: the latest adopted, else the latest
    submitted; None when there is none."""
    adopted = [p for p in plans if p.state in ADOPTED_PLAN_STATES]
    return (adopted or plans)[-1] if plans else None


def plan(row):
    return {"id": row.id, "owner": row.owner, "milestones": row.milestones, "measures": row.measures,
            "expected_result": row.expected_result, "state": row.state, "submitted_by": row.submitted_by,
            "submitted_at": iso(row.submitted_at), "decision_comment": row.decision_comment,
            "decided_by": row.decided_by, "filed_at": iso(row.filed_at)}


def report(row):
    return {"id": row.id, "department": row.department, "progress": row.progress, "summary": row.summary,
            "done": row.done, "completion_report": row.completion_report, "due_at": iso(row.due_at),
            "submitted_by": row.submitted_by, "submitted_at": iso(row.submitted_at),
            "recheck_passed": row.recheck_passed, "recheck_findings": row.recheck_findings}


def instance(row, open_tasks, presenter):
    return {"id": row.id, "definition": row.definition_key, "version": row.definition_version,
            "business_key": row.business_key, "status": row.status, "variables": row.variables or {},
            "open_tasks": [presenter.task(t) for t in open_tasks], "started_at": iso(row.started_at),
            "ended_at": iso(row.ended_at), "started_by": row.started_by, "error": row.error,
            "error_task": row.error_task}


def escalation(row):
    return {"id": row.id, "item_id": row.item_id, "problem_id": row.problem_id, "instance_id": row.instance_id,
            "task_id": row.task_id,
            "task_key": row.task_key, "handle_task_id": row.handle_task_id, "department": row.department,
            "overdue_since": iso(row.overdue_since), "level": row.level,
            "proposed_measure": row.proposed_measure, "state": row.state, "handled_by": row.handled_by,
            "handled_at": iso(row.handled_at), "action": row.action, "comment": row.comment,
            "new_due": iso(row.new_due), "reassigned_to": row.reassigned_to}


def measure(row):
    return {"id": row.id, "department": row.department, "year": row.year, "measure": row.measure,
            "item_id": row.item_id, "problem_id": row.problem_id, "escalation_id": row.escalation_id,
            "recorded_by": row.recorded_by,
            "at": iso(row.at), "kind": row.kind, "points": row.points or 0, "people": row.people or [],
            "proposed": row.proposed, "reason": row.reason, "referral": row.referral,
            "referral_result": row.referral_result, "referral_note": row.referral_note,
            "referral_by": row.referral_by, "referral_at": iso(row.referral_at), "interview": row.interview}


def notification(row):
    return {"id": row.id, "kind": row.kind, "title": row.title, "body": row.body, "item_id": row.item_id,
            "task_id": row.task_id, "created_at": iso(row.created_at), "read_at": iso(row.read_at),
            "read": row.read_at is not None}


def problem_report(row):
    return {"id": row.id, "summary": row.summary, "evidence": row.evidence, "done": row.done,
            "due_at": iso(row.due_at), "submitted_by": row.submitted_by, "submitted_at": iso(row.submitted_at),
            "passed": row.passed, "findings": row.findings, "verified_by": row.verified_by,
            "verified_at": iso(row.verified_at)}
