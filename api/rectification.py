"""Rectification problems (问题整改): register, the ledger (问题台账) with downloads, detail.

The problem's steps are worked through the task endpoints, like any process's.
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import select

from api.auth import current_actor, require_roles, token_auth
from api.errors import abort, problem
from api.exports import XLSX_TYPE, csv_response, local_time, xlsx_response
from api.models import Department
from api.organisation import subtree_path
from api.present import Presenter, audit, problem_report
from api.runtime import engine
from api.schemas import EVIDENCE, LIGHTS, AttachedFileOut, AuditOut, Page, TaskOut, attached_files
from workflows import access, records
from workflows.files import evidence
from workflows.rectification import queries
from workflows.rectification.problems import SOURCE_NAMES, SOURCES, STATUSES, create_problem

bp = APIBlueprint("rectification", __name__, url_prefix="/api/v1", tag="Rectification")
STATUS_NAMES = {"open": "整改中", "closed": "已销号", "cancelled": "已撤销"}
LIGHT_NAMES = {"green": "绿", "yellow": "黄", "red": "红"}
LEDGER_COLUMNS = [("code", "编号"), ("title", "问题"), ("source_name", "来源"), ("department_name", "责任部门"),
                  ("status_name", "状态"), ("deadline", "整改时限"), ("plan_deadline", "方案完成时限"),
                  ("current_step", "当前环节"), ("due_at", "环节期限"), ("light_name", "预警"),
                  ("created_at", "登记时间"), ("closed_at", "销号时间"), ("rebounds", "反弹")]


class ProblemIn(Schema):
    title = String(required=True, validate=Length(1, 400))
    description = String(load_default="", validate=Length(0, 10000))
    source = String(required=True, validate=OneOf(SOURCES))
    department = String(required=True, validate=Length(1, 100))
    deadline = Date(required=True)
    evidence = EVIDENCE()
    campaign = Integer(strict=True, validate=Range(1, 2**31 - 1), metadata={
        "description": "a campaign's id (专项行动): the department must be in its scope"})
    category = Integer(strict=True, validate=Range(1, 2**31 - 1), metadata={
        "description": "one of the campaign's categories (needs campaign)"})


class ProblemCreated(Schema):
    id = String(required=True)
    code = String(required=True)
    instance_id = String(required=True)
    status = String(required=True)


class MilestoneOut(Schema):
    date = String(required=True)
    target = String(required=True)


class ProblemPlanOut(Schema):
    """The plan as submitted: ``deadline`` is its completion date (整改完成时限, the form field of
    the same name); ``state`` its review (``submitted``/``approved``/``returned``; null for a plan of a
    version without review); ``needs_extension``: later than the problem's 整改时限 and not yet
    approved (approval moves the problem's deadline to it)."""
    owner = String(allow_none=True)
    measures = String(allow_none=True)
    deadline = String(allow_none=True)
    cause_analysis = String(allow_none=True)
    goal = String(allow_none=True)
    milestones = List(Nested(MilestoneOut), allow_none=True)
    state = String(allow_none=True)
    needs_extension = Boolean(allow_none=True)
    submitted_at = String(allow_none=True)


class ProblemOut(Schema):
    id = String(required=True)
    code = String(required=True)
    title = String(required=True)
    description = String(allow_none=True)
    source = String(required=True)
    department = String(required=True)
    deadline = String(allow_none=True)
    status = String(required=True)
    light = String(required=True)
    current_step = String(allow_none=True)
    instance_id = String(allow_none=True)
    complaint_id = String(allow_none=True)
    campaign_id = Integer(allow_none=True)
    category_id = Integer(allow_none=True)
    requirements = String(allow_none=True)
    handed_over_at = String(allow_none=True)
    plan = Nested(ProblemPlanOut, allow_none=True)
    created_at = String(required=True)
    created_by = String(allow_none=True)
    closed_at = String(allow_none=True)
    rebounds = Integer(required=True, metadata={"description": "times a 回头看 found it rebounded (反弹)"})
    open_tasks = List(Nested(TaskOut), required=True)


class ProblemReportOut(Schema):
    id = Integer(required=True)
    summary = String(required=True)
    evidence = String(allow_none=True)
    done = Boolean(required=True)
    due_at = String(allow_none=True)
    submitted_by = String(required=True)
    submitted_at = String(required=True)
    passed = Boolean(allow_none=True)
    findings = String(allow_none=True)
    verified_by = String(allow_none=True)
    verified_at = String(allow_none=True)


class ProblemDetailOut(ProblemOut):
    files = List(Nested(AttachedFileOut))
    reports = List(Nested(ProblemReportOut), required=True)
    timeline = List(Nested(AuditOut), required=True)


class ProblemPage(Schema):
    items = List(Nested(ProblemOut), required=True)
    total = Integer(required=True)


class LedgerQuery(Page):
    source = String(validate=OneOf(SOURCES))
    department = String(validate=Length(1, 100))
    under = String(validate=Length(1, 100), metadata={
        "description": "a department's code: the problems of the departments of its subtree"})
    status = String(validate=OneOf(STATUSES))
    light = String(validate=OneOf(LIGHTS))
    q = String(validate=Length(1, 200))
    campaign = Integer(validate=Range(1, 2**31 - 1), metadata={"description": "a campaign's problems (专项行动)"})
    category = Integer(validate=Range(1, 2**31 - 1), metadata={
        "description": "a category's problems (a kind: with its sub-kinds)"})
    format = String(load_default="json", validate=OneOf(("json", "csv", "xlsx")))


def department_exists(code):
    with engine().db.read() as session:
        return session.get(Department, code) is not None


def check_department(code, field="department"):
    if not department_exists(code):
        abort(400, "invalid_input", f"unknown department {code!r}",
              [problem(field, "unknown_department", f"unknown department {code!r}")])


def visible_problem(problem_id):
    """The problem if the caller may see it (``workflows.access.may_see_problem``); else 403."""
    return access.visible_problem(engine(), current_actor(), problem_id)


@bp.post("/problems")
@bp.auth_required(token_auth)
@require_roles(*access.REGISTRARS, *access.SELF_CHECKERS)
@bp.input(ProblemIn, arg_name="body")
@bp.output(ProblemCreated, status_code=201)
@bp.doc(summary="Register a problem (问题登记) and start its rectification process; staff and leaders "
                "only their own department's self_check finding in a campaign's self-check stage "
                "(403 self_check_only otherwise)", responses=[400, 403, 404])
def create(body):
    check_department(body["department"])
    problem = create_problem(engine(), {**body, "deadline": body["deadline"].isoformat()}, current_actor())
    return {"id": problem.id, "code": problem.code, "instance_id": problem.instance_id, "status": problem.status}


@bp.get("/problems")
@bp.auth_required(token_auth)
@bp.input(LedgerQuery, location="query", arg_name="query")
@bp.output(ProblemPage)
@bp.doc(summary="The ledger (问题台账): problems in the caller's scope, newest first; "
                "filter by source, department, status, light, text; ?format=csv|xlsx downloads every match",
        responses={200: {"description": "the ledger page (JSON), or every matching problem as CSV or XLSX",
                         "content": {"text/csv": {"schema": {"type": "string"}},
                                     XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}})
def ledger(query):
    rt = engine()
    presenter = Presenter(rt)
    download = query["format"] != "json"
    limit, offset = (queries.MAX_EXPORT_ROWS, 0) if download else (query["limit"], query["offset"])
    with rt.db.read() as session:
        under = subtree_path(session, query["under"]) if query.get("under") else None
        rows, total = queries.ledger(
            session, current_actor(), rt.calendar, presenter.now, source=query.get("source"),
            department=query.get("department"), status=query.get("status"), light=query.get("light"),
            q=query.get("q"), limit=limit, offset=offset, under=under, campaign=query.get("campaign"),
            category=query.get("category"))
        tasks = records.open_tasks(session, [r.id for r in rows])
        names = {d.code: d.name for d in session.scalars(select(Department))} if download else {}
    problems = [presenter.problem(r, tasks.get(r.id, [])) for r in rows]
    if not download:
        return {"items": problems, "total": total}
    return ledger_file(query["format"], problems, names)


def ledger_file(format_, problems, department_names):
    """The ledger (presented problems) as a CSV or XLSX response; the web page's links use it too."""
    table = [_ledger_row(p, department_names) for p in problems]
    if format_ == "csv":
        return csv_response(LEDGER_COLUMNS, table, "problems")
    return xlsx_response(LEDGER_COLUMNS, table, "problems", "问题台账")


def _ledger_row(problem, department_names):
    """One problem as a ledger row: names for codes, instants in local time as the pages show them."""
    calendar = engine().calendar
    due = min((t["due_at"] for t in problem["open_tasks"] if t["due_at"]), default=None)
    times = {key: local_time(problem[key], calendar) for key in ("created_at", "closed_at")}
    return {**problem, **times, "source_name": SOURCE_NAMES.get(problem["source"], problem["source"]),
            "department_name": department_names.get(problem["department"], problem["department"]),
            "status_name": STATUS_NAMES.get(problem["status"], problem["status"]),
            "light_name": LIGHT_NAMES[problem["light"]] if problem["status"] == "open" else None,
            "plan_deadline": (problem["plan"] or {}).get("deadline"), "due_at": local_time(due, calendar)}


@bp.get("/problems/<problem_id>")
@bp.auth_required(token_auth)
@bp.output(ProblemDetailOut)
@bp.doc(summary="One problem with its open tasks, reports and verifications, and timeline", responses=[403, 404])
def get(problem_id):
    problem = visible_problem(problem_id)
    rt = engine()
    with rt.db.read() as session:
        tasks = records.open_tasks(session, [problem.id]).get(problem.id, [])
        body = Presenter(rt).problem(problem, tasks)
        body.update(reports=[problem_report(r) for r in queries.reports(session, problem.id)],
                    files=attached_files(evidence.of_record(session, problem.id)),
                    timeline=[audit(r) for r in records.timeline(session, problem.id)])
    return body
