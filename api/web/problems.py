"""问题整改: the ledger (问题台账) with filters, search and CSV/XLSX downloads, a problem's page
(facts, plan, open steps, reports and verifications, timeline), and registering a problem
(问题登记, secretariat).

Lists read ``workflows.rectification.queries`` within the reader's scope (the secretariat,
supervisors and admins all problems, everyone else their department's), exactly as
``GET /api/v1/problems``; the downloads are the API's files (``api.rectification.ledger_file``)
behind the session. Registering goes through ``create_problem`` (its own validation) like
``POST /api/v1/problems``. A problem's steps are worked on the ordinary task pages.
"""
from flask import g, render_template, request, url_for
from sqlalchemy import select

from api.present import Presenter
from api.rectification import department_exists, ledger_file
from api.runtime import engine
from api.web import bp, paging
from api.web.lookups import department_names, registrable_departments, task_titles_of, user_names
from api.web.registration import registration_page
from api.web.session import login_required, roles_required
from api.web.files import record_files
from api.web.lookback import lookback_context
from workflows import access, records, returns
from workflows.campaigns.models import Campaign
from workflows.rectification import queries
from workflows.rectification.problems import SOURCE_NAMES, SOURCES, STATUSES, create_problem

PAGE = 50
LIGHTS = ("green", "yellow", "red")


def _filters(args):
    """The ledger's filters from the query string; unknown values are ignored (as on the items list)."""
    return {"source": args.get("source") if args.get("source") in SOURCES else None,
            "department": args.get("department") or None,
            "status": args.get("status") if args.get("status") in STATUSES else None,
            "light": args.get("light") if args.get("light") in LIGHTS else None,
            "q": args.get("q", "").strip()[:200] or None,
            "campaign": _number(args.get("campaign")), "category": _number(args.get("category"))}


def _number(text):
    """A positive id from the query string, or None (ignored like the other unknown values)."""
    return int(text) if text and text.isdigit() and 0 < int(text) < 2**31 else None


def _ledger(filters, limit, offset):
    rt = engine()
    presenter = Presenter(rt)
    with rt.db.read() as db:
        rows, total = queries.ledger(db, g.actor, rt.calendar, presenter.now, limit=limit, offset=offset, **filters)
        tasks = records.open_tasks(db, [r.id for r in rows])
    return [presenter.problem(r, tasks.get(r.id, [])) for r in rows], total


@bp.get("/problems")
@login_required
def problems():
    filters = _filters(request.args)
    page = paging.page_number()
    listed, total = _ledger(filters, PAGE, (page - 1) * PAGE)
    query = {k: v for k, v in filters.items() if v}
    return render_template("problems.html", problems=listed, total=total, page=page, args=request.args,
                           query=query, pages=max((total + PAGE - 1) // PAGE, 1), departments=department_names(),
                           campaigns=_campaign_names(),
                           may_create=access.may_register(g.actor))


def _campaign_names():
    """``{id: name}`` of the campaigns the reader may see, for the ledger's filter."""
    with engine().db.read() as db:
        query = select(Campaign.id, Campaign.name).order_by(Campaign.starts_on.desc(), Campaign.id.desc())
        condition = access.campaign_scope(g.actor)
        return dict(db.execute(query.where(condition) if condition is not None else query).all())


@bp.get("/problems.<any(csv, xlsx):fmt>")
@login_required
def problems_download(fmt):
    listed, _total = _ledger(_filters(request.args), queries.MAX_EXPORT_ROWS, 0)
    return ledger_file(fmt, listed, department_names())


@bp.get("/problems/<problem_id>")
@login_required
def problem(problem_id):
    rt = engine()
    row = access.visible_problem(rt, g.actor, problem_id)
    with rt.db.read() as db:
        tasks = records.open_tasks(db, [row.id]).get(row.id, [])
        reports = queries.reports(db, row.id)
        timeline = records.timeline(db, row.id)
        titles = task_titles_of(db, row.id)
        returned = returns.returned_tasks(db, tasks)
        files = record_files(db, row.id)
        lookback = lookback_context(db, row)
    return render_template("problem.html", lookback=lookback, problem=row, body=Presenter(rt).problem(row, tasks), reports=reports,
                           timeline=timeline, task_titles=titles, returned=returned, files=files,
                           departments=department_names(),
                           users=user_names())


# -- 问题登记 -------------------------------------------------------------------------------------
def problem_schema():
    """The registration form (the API's ProblemIn) as a JSON Schema; departments from the database."""
    departments = registrable_departments(g.actor)  # a county's registrar: its subtree's
    return {
        "type": "object", "additionalProperties": False, "required": ["title", "source", "department", "deadline"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 400, "title": "问题", "x-widget": "text"},
            "source": {"type": "string", "enum": list(SOURCES), "enumNames": [SOURCE_NAMES[s] for s in SOURCES],
                       "title": "问题来源"},
            "department": {"type": "string", "enum": [d.code for d in departments],
                           "enumNames": [d.name for d in departments], "title": "责任部门"},
            "deadline": {"type": "string", "format": "date", "title": "整改时限"},
            "description": {"type": "string", "maxLength": 10000, "title": "问题描述", "x-widget": "textarea"},
            "evidence": {"type": "array", "title": "佐证材料（附件）", "maxItems": 50,
                         "items": {"type": "string", "format": "file"}},
        },
    }


@bp.route("/problems/new", methods=["GET", "POST"])
@roles_required(*access.REGISTRARS)
def problem_new():
    def department_known(data):
        if data.get("department") and not department_exists(data["department"]):
            return {"department": ["部门不存在"]}
        return {}
    return registration_page("problem_new.html", problem_schema(), create_problem, lambda problem: (
        f"已登记问题：{problem.code}，整改流程已启动，请办理“移交”。",
        url_for("web.problem", problem_id=problem.id)), check=department_known)
