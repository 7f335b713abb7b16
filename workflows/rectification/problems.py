"""Rectification problems (问题整改): registration, and the listeners that keep problems in step.

Registering a problem starts the latest ``rectification`` process with the problem's id as
business key; the ``instance_started`` listener writes the problem row and allocates its code
``ZG-<year>-<seq>`` inside the instance's own transaction, so a problem exists exactly when
its process does. Later listeners record the hand-over, the plan, its review (审定), each report and each
verification the same way; the end of the process closes (销号) or cancels the problem.

整改时限 binds the plan (:func:`check_plan`, :func:`record_review`): a completion date
(the plan's ``deadline`` field, the name it had before plans were reviewed, kept so
existing clients stay valid) before today is refused (400 ``date_in_past``, nothing changes); one
later than the problem's deadline is accepted but flagged ``needs_extension`` (the diagram's
``check_plan`` script sets the same flag in the instance, and the problem row keeps it for the
review page), and the secretariat's approval of such a plan *is* the extension: the problem's
deadline becomes the plan's date, recorded in the audit log (``problem_deadline_extended``).
Why not the 延期申请 process (``workflows.supervision.extensions``): that moves the due time
of an open step of an item; here nothing is open to move — the plan is the request, and its
review already is the secretariat's decision on it, so a second request would ask the same
people the same question twice.
"""
import datetime as dt

from engine.errors import InvalidInput, problem
from workflows import records
from workflows.rectification.models import Problem, ProblemReport

PROCESS_KEY = "rectification"
SOURCES = ("inspection", "self_check", "complaint", "audit")
SOURCE_NAMES = {"inspection": "巡察", "self_check": "自查", "complaint": "群众反映", "audit": "审计"}
STATUSES = ("open", "closed", "cancelled")
_FIELDS = {"title": str, "description": str, "source": str, "department": str, "deadline": str, "evidence": list,
           "campaign": int, "category": int}
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
            "source": data["source"], "department": data["department"], "deadline": data["deadline"],
            "campaign": data.get("campaign"), "category": data.get("category")}


def create_problem(engine, data, actor, origin=None):
    """Register a problem and start its rectification; returns the Problem row (``origin``: see
    ``records.start``). Forbidden (``outside_subtree``) for a department outside a county
    registrar's subtree; for anyone but a registrar, unless it is their own department's
    self-check finding in a campaign's self-check stage (``access.refuse_registration``).
    A campaign and category must fit (``campaigns.refuse_membership``)."""
    from workflows import access  # (access imports this module)
    from workflows.campaigns import campaigns
    fields = validate_problem(data)
    with engine.db.read() as session:
        access.refuse_registration(session, actor, fields, campaigns.today(engine))
        access.refuse_outside_subtree(session, actor, [fields["department"]])
        campaigns.refuse_membership(session, fields["campaign"], fields["category"], fields["department"])
    variables = {"title": fields["title"], "description": fields["description"], "source": fields["source"],
                 "department": fields["department"], "problem_deadline": fields["deadline"]}
    if fields["campaign"] is not None:  # only then: instances without a campaign keep their variables
        variables.update(campaign_id=fields["campaign"], category_id=fields["category"])
    return get_problem(engine, records.start(engine, PROCESS_KEY, "problem_id", variables, actor, origin,
                                             evidence=data.get("evidence")))


def get_problem(engine, problem_id):
    return records.get(engine, Problem, problem_id, "problem")


# -- listeners (records.Listeners: in the write transaction, for problems' instances) -------
listeners = records.Listeners(PROCESS_KEY)


@listeners.on("instance_started")
def on_instance_started(event):
    data = event.data
    existing = event.session.get(Problem, event.instance.business_key)
    if existing is not None:  # a new round after a 回头看 found it rebounded
        from workflows.lookback.lookbacks import reopen_round  # (lookback imports this domain's models)
        reopen_round(event, existing)
        return
    deadline = data.get("problem_deadline")
    event.session.add(Problem(
        **records.opening_columns(event, Problem, "ZG", _CODE_LOCK),
        title=data["title"], description=data.get("description"), source=data["source"],
        department=data["department"], deadline=dt.date.fromisoformat(deadline) if deadline else None,
        complaint_id=data.get("complaint_id"), campaign_id=data.get("campaign_id"),
        category_id=data.get("category_id")))
    event.session.flush()


def _problem(event):
    return event.session.get(Problem, event.instance.business_key)


@listeners.on("task_completed", "hand_over")
def hand_over(event):
    problem = _problem(event)
    problem.requirements = event.data.get("requirements") or problem.requirements
    problem.handed_over_at = event.at


def check_plan(step):
    """``before_complete`` of ``submit_rectification_plan``: a completion date before today
    (the engine's clock, local) is refused before anything changes."""
    day = step.data.get("deadline")
    if day and dt.date.fromisoformat(day) < step.engine.calendar.local(step.now).date():
        raise InvalidInput("deadline: must not be in the past", details=[
            problem("deadline", "date_in_past", "the completion date must not be before today")])


@listeners.on("task_completed", "submit_rectification_plan")
def record_plan(event):
    problem, data = _problem(event), event.data
    problem.plan_owner, problem.plan_measures = data["owner"], data["measures"]
    problem.plan_deadline = dt.date.fromisoformat(data["deadline"])
    problem.plan_cause_analysis, problem.plan_goal = data.get("cause_analysis"), data.get("goal")
    problem.plan_milestones = data.get("milestones")
    problem.plan_needs_extension = problem.deadline is not None and problem.plan_deadline > problem.deadline
    problem.plan_state = None  # set by the review step's opening; versions before review have none
    problem.plan_submitted_at = event.at


@listeners.on("task_opened", "review_rectification_plan")
def await_review(event):
    _problem(event).plan_state = "submitted"


@listeners.on("task_completed", "review_rectification_plan")
def record_review(event):
    problem = _problem(event)
    if event.data.get("approved") is not True:
        problem.plan_state = "returned"
        return
    problem.plan_state = "approved"
    if problem.plan_needs_extension:
        old, problem.deadline = problem.deadline, problem.plan_deadline
        problem.plan_needs_extension = False
        event.audit("problem_deadline_extended", {"from": old.isoformat() if old else None,
                                                  "to": problem.deadline.isoformat(), "task_id": event.task_id})


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
    registry.before_complete("submit_rectification_plan", process=PROCESS_KEY)(records.keyed(check_plan))
