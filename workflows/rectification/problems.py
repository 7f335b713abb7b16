"""Rectification problems (问题整改): registration, and the listeners that keep problems in step.

Registering a problem starts the latest ``rectification`` process with the problem's id as
business key; the ``instance_started`` listener writes the problem row and allocates its code
``ZG-<year>-<seq>`` inside the instance's own transaction, so a problem exists exactly when
its process does. Later listeners record the hand-over, the plan, each report and each
verification the same way; the end of the process closes (销号) or cancels the problem.
"""
import datetime as dt
import uuid

from sqlalchemy import select

from engine.errors import InvalidInput, NotFound, problem
from engine.models import HumanTask
from workflows.numbering import next_seq
from workflows.rectification.models import Problem, ProblemReport

PROCESS_KEY = "rectification"
SOURCES = ("inspection", "self_check", "complaint", "audit")
SOURCE_NAMES = {"inspection": "巡察", "self_check": "自查", "complaint": "群众反映", "audit": "审计"}
STATUSES = ("open", "closed", "cancelled")
_FIELDS = {"title": str, "description": str, "source": str, "department": str, "deadline": str}
_REQUIRED = ("title", "source", "department", "deadline")
_CODE_LOCK = 0x7A670000  # "zg": serialises code allocation per year on PostgreSQL


def validate_problem(data):
    """Return the cleaned problem fields or raise InvalidInput listing every field problem."""
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", reason="not_an_object")
    problems = [problem(name, "required", "is required") for name in _REQUIRED
                if data.get(name) in (None, "")]
    problems += [problem(name, "invalid", f"must be of type {kind.__name__}")
                 for name, kind in _FIELDS.items()
                 if data.get(name) is not None and not isinstance(data[name], kind)]
    problems += [problem(name, "unknown", "unknown field") for name in data if name not in _FIELDS]
    if isinstance(data.get("source"), str) and data["source"] and data["source"] not in SOURCES:
        problems.append(problem("source", "invalid_choice", f"must be one of {', '.join(SOURCES)}"))
    if isinstance(data.get("deadline"), str) and data["deadline"]:
        try:
            dt.date.fromisoformat(data["deadline"])
        except ValueError:
            problems.append(problem("deadline", "invalid_date", "must be a date YYYY-MM-DD"))
    if isinstance(data.get("title"), str):
        if len(data["title"]) > 400:
            problems.append(problem("title", "too_long", "at most 400 characters"))
        elif data["title"] and not data["title"].strip():
            problems.append(problem("title", "blank", "must not be blank"))
    if isinstance(data.get("description"), str) and len(data["description"]) > 10000:
        problems.append(problem("description", "too_long", "at most 10000 characters"))
    if problems:
        raise InvalidInput("invalid problem", details=problems)
    return {"title": data["title"].strip(), "description": data.get("description") or "",
            "source": data["source"], "department": data["department"], "deadline": data["deadline"]}


def create_problem(engine, data, actor, origin=None):
    """Register a problem and start its rectification; returns the Problem row.

    ``origin``: extra start variables naming where the problem came from
    (``{"complaint_id": ...}``); listeners of other domains see them.
    """
    fields = validate_problem(data)
    problem_id = str(uuid.uuid4())
    variables = {"problem_id": problem_id, "title": fields["title"], "description": fields["description"],
                 "source": fields["source"], "department": fields["department"],
                 "problem_deadline": fields["deadline"], **(origin or {})}
    instance = engine.instances.start(PROCESS_KEY, variables, actor, business_key=problem_id)
    return get_problem(engine, instance.business_key)


def get_problem(engine, problem_id):
    with engine.db.read() as session:
        problem = session.get(Problem, problem_id)
        if problem is None:
            raise NotFound(f"no problem {problem_id}", reason="no_problem")
        return problem


# -- listeners (run inside the unit of work's write transaction) -----------------------------
def _rectification(event):
    return event.instance.definition_key == PROCESS_KEY and event.instance.business_key


def on_instance_started(event):
    if not _rectification(event):
        return
    data, session = event.data, event.session
    year = event.engine.calendar.local(event.at).year
    seq = next_seq(session, Problem, year, _CODE_LOCK)
    deadline = data.get("problem_deadline")
    session.add(Problem(
        id=event.instance.business_key, code=f"ZG-{year}-{seq:04d}", year=year, seq=seq,
        title=data["title"], description=data.get("description"), source=data["source"],
        department=data["department"], deadline=dt.date.fromisoformat(deadline) if deadline else None,
        status="open", instance_id=event.instance.id, complaint_id=data.get("complaint_id"),
        created_by=event.actor.username, created_at=event.at))
    session.flush()


def on_task_completed(event):
    if not _rectification(event):
        return
    handler = _TASK_HANDLERS.get(event.task_key)
    if handler:
        handler(event, event.session, event.session.get(Problem, event.instance.business_key))


def _hand_over(event, session, problem):
    problem.requirements = event.data.get("requirements") or problem.requirements
    problem.handed_over_at = event.at


def _record_plan(event, session, problem):
    data = event.data
    problem.plan_owner, problem.plan_measures = data["owner"], data["measures"]
    problem.plan_deadline = dt.date.fromisoformat(data["deadline"])
    problem.plan_submitted_at = event.at


def _record_report(event, session, problem):
    data, task = event.data, session.get(HumanTask, event.task_id)
    session.add(ProblemReport(
        problem_id=problem.id, task_id=event.task_id, summary=data["summary"],
        evidence=data.get("evidence"), done=data["done"], due_at=task.due_at if task else None,
        submitted_by=event.actor.username, submitted_at=event.at))


def _record_verification(event, session, problem):
    report = session.scalar(select(ProblemReport).where(
        ProblemReport.problem_id == problem.id, ProblemReport.done)
        .order_by(ProblemReport.id.desc()).limit(1))
    if report is not None:
        report.passed, report.findings = event.data["passed"], event.data["findings"]
        report.verified_by, report.verified_at = event.actor.username, event.at


_TASK_HANDLERS = {"hand_over": _hand_over, "submit_rectification_plan": _record_plan,
                  "submit_rectification_report": _record_report,
                  "verify_rectification": _record_verification}


def on_instance_ended(status):
    def listener(event):
        if _rectification(event):
            problem = event.session.get(Problem, event.instance.business_key)
            problem.status, problem.closed_at = status, event.at
    return listener


def register(registry):
    registry.on("instance_started")(on_instance_started)
    registry.on("task_completed")(on_task_completed)
    registry.on("instance_completed")(on_instance_ended("closed"))
    registry.on("instance_cancelled")(on_instance_ended("cancelled"))
