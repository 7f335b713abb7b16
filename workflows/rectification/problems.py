"""Rectification problems (问题整改): registration, and the listeners that keep problems in step.

Registering a problem starts the latest ``rectification`` process with the problem's id as
business key; the ``instance_started`` listener writes the problem row and allocates its code
``ZG-<year>-<seq>`` inside the instance's own transaction, so a problem exists exactly when
its process does. Later listeners record the hand-over, the plan, each report and each
verification the same way; the end of the process closes (销号) or cancels the problem.
"""
import datetime as dt

from engine.errors import problem
from workflows import records
from workflows.rectification.models import Problem, ProblemReport

PROCESS_KEY = "rectification"
SOURCES = ("inspection", "self_check", "complaint", "audit")
SOURCE_NAMES = {"inspection": "巡察", "self_check": "自查", "complaint": "群众反映", "audit": "审计"}
STATUSES = ("open", "closed", "cancelled")
_FIELDS = {"title": str, "description": str, "source": str, "department": str, "deadline": str, "evidence": list}
_REQUIRED = ("title", "source", "department", "deadline")
_CODE_LOCK = 0x7A670000  # "zg": serialises code allocation per year on PostgreSQL


def validate_problem(data):
    """Return the cleaned problem fields or raise InvalidInput listing every field problem."""
    problems = records.check_fields(data, _FIELDS, _REQUIRED)
    if isinstance(data.get("source"), str) and data["source"] and data["source"] not in SOURCES:
        problems.append(problem("source", "invalid_choice", f"must be one of {', '.join(SOURCES)}"))
    if isinstance(data.get("description"), str) and len(data["description"]) > 10000:
        problems.append(problem("description", "too_long", "at most 10000 characters", limit=10000))
    records.refuse(problems, "invalid problem")
    return {"title": data["title"].strip(), "description": data.get("description") or "",
            "source": data["source"], "department": data["department"], "deadline": data["deadline"]}


def create_problem(engine, data, actor, origin=None):
    """Register a problem and start its rectification; returns the Problem row (``origin``: see
    ``records.start``)."""
    fields = validate_problem(data)
    variables = {"title": fields["title"], "description": fields["description"], "source": fields["source"],
                 "department": fields["department"], "problem_deadline": fields["deadline"]}
    return get_problem(engine, records.start(engine, PROCESS_KEY, "problem_id", variables, actor, origin,
                                             evidence=data.get("evidence")))


def get_problem(engine, problem_id):
    return records.get(engine, Problem, problem_id, "problem")


# -- listeners (records.Listeners: in the write transaction, for problems' instances) -------
listeners = records.Listeners(PROCESS_KEY)


@listeners.on("instance_started")
def on_instance_started(event):
    data = event.data
    deadline = data.get("problem_deadline")
    event.session.add(Problem(
        **records.opening_columns(event, Problem, "ZG", _CODE_LOCK),
        title=data["title"], description=data.get("description"), source=data["source"],
        department=data["department"], deadline=dt.date.fromisoformat(deadline) if deadline else None,
        complaint_id=data.get("complaint_id")))
    event.session.flush()


def _problem(event):
    return event.session.get(Problem, event.instance.business_key)


@listeners.on("task_completed", "hand_over")
def hand_over(event):
    problem = _problem(event)
    problem.requirements = event.data.get("requirements") or problem.requirements
    problem.handed_over_at = event.at


@listeners.on("task_completed", "submit_rectification_plan")
def record_plan(event):
    problem, data = _problem(event), event.data
    problem.plan_owner, problem.plan_measures = data["owner"], data["measures"]
    problem.plan_deadline = dt.date.fromisoformat(data["deadline"])
    problem.plan_submitted_at = event.at


@listeners.on("task_completed", "submit_rectification_report")
def record_report(event):
    data = event.data
    event.session.add(ProblemReport(
        problem_id=event.instance.business_key, task_id=event.task_id, summary=data["summary"],
        evidence=data.get("evidence"), done=data["done"], due_at=records.due_at(event),
        submitted_by=event.actor.username, submitted_at=event.at))


@listeners.on("task_completed", "verify_rectification")
def record_verification(event):
    problem_id = event.instance.business_key
    report = records.latest(event.session, ProblemReport, ProblemReport.problem_id == problem_id,
                            ProblemReport.done)
    if report is not None:
        report.passed, report.findings = event.data["passed"], event.data["findings"]
        report.verified_by, report.verified_at = event.actor.username, event.at


listeners.close_on_end(Problem)


def register(registry):
    listeners.register(registry)
