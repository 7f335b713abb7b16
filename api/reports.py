"""Reports: weekly progress (周报), monthly ranking (月度通报排名), year-end statistics (年度考核).

JSON by default; ``?format=csv`` or ``?format=xlsx`` for downloads (``weekly_file``,
``ranking_file``, ``year_file``: the web pages' download links use the same). Definitions of
every figure are in workflows/supervision/reports.py.
"""
import datetime as dt

from apiflask import APIBlueprint, Schema
from marshmallow import ValidationError, validates_schema
from apiflask.fields import Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp
from sqlalchemy import func, select

from api.auth import current_actor, require_roles, token_auth
from api.errors import abort, problem
from api.exports import csv_response, downloadable, local_time, xlsx_response
from api.models import Department, User
from api.organisation import MAX_DEPTH, subtree_path
from api.runtime import engine
from api.schemas import Page
from workflows import access
from workflows import departments as tree
from workflows.supervision import monthly, reports
from workflows.supervision.models import ReportSnapshot

bp = APIBlueprint("reports", __name__, url_prefix="/api/v1", tag="Reports")
READERS = ("secretariat", "leader", "supervisor")   # 周报, 年度考核, snapshots
RANKING_READERS = READERS + ("staff",)  # the web navigation entry of 月度排名 (the ranking itself: everyone)
FORMATS = OneOf(("json", "csv", "xlsx"))
LIGHT_NAMES = {"green": "绿", "yellow": "黄", "red": "红"}
RATING_NAMES = {"excellent": "优", "good": "良", "poor": "差"}  # also the pages' (api.web.labels.RATINGS)

WEEKLY_COLUMNS = [("department_name", "承办部门"), ("code", "编号"), ("title", "事项"), ("leader", "分管领导"),
                  ("deadline", "办结时限"), ("current_step", "当前环节"), ("light_name", "预警"),
                  ("days_overdue", "超期工作日"), ("progress", "最新进度(%)"), ("summary", "最新进展"),
                  ("reported_at", "反馈时间"), ("kind_name", "类别")]
# The weekly file's rows after the items: the week's problems, one row per problem and group.
PROBLEM_KIND_NAMES = {"new": "本周新登记问题", "closed": "本周销号问题", "overdue": "逾期未整改问题"}
RANKING_COLUMNS = [("rank", "排名"), ("name", "部门"), ("items_handled", "办理事项"), ("steps_due", "应办环节"),
                   ("steps_on_time", "按时办理"), ("on_time_rate_pct", "按时率(%)"), ("overdue_steps", "超期环节"),
                   ("escalations", "升级督办"), ("measures", "问责措施"), ("items_closed", "办结事项"),
                   ("average_rating", "平均评价"), ("problems_due", "应整改问题"), ("problems_on_time", "按期整改"),
                   ("rectification_rate_pct", "整改按期率(%)"), ("problems_closed", "销号问题"), ("rebounds", "反弹"),
                   ("combined_rate_pct", "综合按时率(%)")]
YEAR_COLUMNS = RANKING_COLUMNS + [("closure_rate_pct", "办结率(%)")]


# The years a report may cover: the year report's and the pages' pickers' range.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _report_year(text):
    if text[:4].isdigit() and not FIRST_YEAR <= int(text[:4]) <= LAST_YEAR:
        raise ValidationError(f"years {FIRST_YEAR}-{LAST_YEAR} only")


class WeekQuery(Schema):
    week = String(validate=[Regexp(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$", error="use YYYY-Www, e.g. 2026-W48"),
                            _report_year])
    format = String(load_default="json", validate=FORMATS)
    under = String(validate=Length(1, 100), metadata={
        "description": "a department's code: the items led by the departments of its subtree"})


class LevelQuery(Schema):
    """One level of the department tree, each department with its subtree's figures rolled up
    (issue 16); without either, every department but the overseeing offices, as before."""
    children_of = String(validate=Length(1, 100), metadata={
        "description": "a department's code: rank its children"})
    level = Integer(validate=Range(1, MAX_DEPTH), metadata={
        "description": "rank the departments at this depth (1: the roots)"})

    @validates_schema
    def _one_level(self, data, **kwargs):
        if "children_of" in data and "level" in data:
            raise ValidationError("give children_of or level, not both", field_name="level")


class MonthQuery(LevelQuery):
    month = String(validate=[Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="use YYYY-MM, e.g. 2026-11"),
                             _report_year])
    format = String(load_default="json", validate=FORMATS)


class YearQuery(LevelQuery):
    year = Integer(validate=Range(FIRST_YEAR, LAST_YEAR))
    format = String(load_default="json", validate=FORMATS)


def ranked_level(session, query, actor):
    """``(departments, members)`` a ranking ranks: one level rolled up (``?children_of=``,
    ``?level=``), or the ranked departments, each for itself (members None) — for a county's
    secretariat or supervisors (``access.confinement``) those of its own subtree only."""
    if "children_of" in query:
        subtree_path(session, query["children_of"], field="children_of")
        nodes = tree.children(session, query["children_of"])
    elif "level" in query:
        nodes = tree.at_depth(session, query["level"])
    else:
        return within_reach(session, ranked(session), actor), None
    return reports.rolled_up(session, nodes, _departments(session))


def within_reach(session, departments, actor):
    """``departments`` cut to the subtree a confined overseer works in (all for everyone else)."""
    subtree = access.confinement(actor)
    if subtree is None:
        return departments
    codes = set(session.scalars(tree.subtree_codes(subtree)))
    return {code: name for code, name in departments.items() if code in codes}


def _departments(session):
    return {d.code: d.name for d in session.scalars(select(Department))}


def ranked(session):
    """The departments the ranking and the year-end statistics rank (not the overseeing offices:
    ``reports.ranked_departments``)."""
    return reports.ranked_departments(session, engine().registry.directory)


def rating_name(average):
    """An average rating as 优/良/差 (``reports.rating_grade``); None for none."""
    return RATING_NAMES.get(reports.rating_grade(average))


def _local_now():
    rt = engine()
    return rt.clock.now(), rt.calendar.local(rt.clock.now())


def this_week(local):
    """The ISO week (``"2026-W48"``) of a local date-time."""
    return "{}-W{:02d}".format(*local.isocalendar()[:2])


def this_month(local):
    return f"{local.year}-{local.month:02d}"


def is_iso_week(week):
    """``"2026-W53"`` passes the pattern but is no week: check the calendar too (and the
    years reports cover)."""
    year, number = week.split("-W")
    if not FIRST_YEAR <= int(year) <= LAST_YEAR:
        return False
    try:
        dt.date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        return False
    return True


def _valid_week(week):
    if not is_iso_week(week):
        abort(400, "invalid_input", f"{week} is not an ISO week", [problem("week", "invalid_week", "no such week")])


@bp.get("/reports/weekly")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.input(WeekQuery, location="query", arg_name="query")
@bp.doc(summary="Weekly progress report (重点工作进展周报) for an ISO week (default: this week); "
                "?under= keeps one subtree's departments",
        responses={200: downloadable("the report (JSON, CSV or XLSX)"), 400: "bad week", 403: "not allowed"})
def weekly(query):
    rt = engine()
    now, local = _local_now()
    week = query.get("week") or this_week(local)
    _valid_week(week)
    with rt.db.read() as session:
        report = reports.weekly_for(session, reports.weekly(session, rt.calendar, week, now, _departments(session)),
                                    current_actor())
        if query.get("under"):
            report = reports.weekly_under(session, report, subtree_path(session, query["under"]))
    if query["format"] == "json":
        return report
    return weekly_file(query["format"], report)


@bp.get("/reports/ranking")
@bp.auth_required(token_auth)
@bp.input(MonthQuery, location="query", arg_name="query")
@bp.doc(summary="Monthly ranking (月度通报排名) of departments by combined rate — items' steps and "
                "problems' rectification (default: this month); "
                "?children_of= or ?level= ranks one level of the tree, subtrees rolled up",
        responses={200: downloadable("the ranking (JSON, CSV or XLSX)"), 400: "bad month"})
def ranking(query):
    rt = engine()
    now, local = _local_now()
    month = query.get("month") or this_month(local)
    with rt.db.read() as session:
        report = reports.ranking(session, rt.calendar, month, now, *ranked_level(session, query, current_actor()))
    return report if query["format"] == "json" else ranking_file(query["format"], report)


@bp.get("/reports/year")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.input(YearQuery, location="query", arg_name="query")
@bp.doc(summary="Year-end statistics (年度考核) per department (default: this year)",
        responses={200: downloadable("the statistics (JSON, CSV or XLSX)"), 400: "bad year", 403: "not allowed"})
def year_end(query):
    rt = engine()
    now, local = _local_now()
    year = query.get("year") or local.year
    with rt.db.read() as session:
        report = reports.year_end(session, rt.calendar, year, now, *ranked_level(session, query, current_actor()))
    return report if query["format"] == "json" else year_file(query["format"], report)


class DigestQuery(Schema):
    month = String(validate=[Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="use YYYY-MM, e.g. 2026-11"), _report_year])


class DigestOut(Schema):
    month = String(required=True)
    as_of = String(required=True)
    lagging = Integer(required=True, metadata={"description": "key items flagged for on-site review (现场督查)"})
    items = List(Dict(), required=True, metadata={
        "description": "item_id, code, title, department, department_name, deadline, light, progress, "
                       "expected_progress, report (the month's: due_at, submitted_at, submitted_by, "
                       "progress_of_month, difficulties, next_month_plan; null before it opens), "
                       "no_report, red, behind, lagging"})


@bp.get("/reports/monthly-digest")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.input(DigestQuery, location="query", arg_name="query")
@bp.output(DigestOut)
@bp.doc(summary="一月一调度: the month's key items (重点) with their monthly reports, lagging ones flagged "
                "for on-site review (default: this month)", responses=[400, 403])
def monthly_digest(query):
    rt = engine()
    now, local = _local_now()
    with rt.db.read() as session:
        return monthly.digest(session, rt.calendar, query.get("month") or this_month(local), now,
                              _departments(session))


# -- the downloads (also the web pages' download links: api/web/reports.py) --------------------
def weekly_file(format_, report):
    """The weekly report (``reports.weekly``) as a CSV or XLSX response, one row per item: as the
    page shows it, the leader by display name and the report's time local (``local_time``)."""
    calendar = engine().calendar
    with engine().db.read() as session:
        names = {u.username: u.display_name for u in session.scalars(select(User))}
    rows = [{**row, "department_name": group["name"], "light_name": LIGHT_NAMES[row["light"]],
             "leader": names.get(row["leader"], row["leader"]),
             "progress": (row["latest_report"] or {}).get("progress"),
             "summary": (row["latest_report"] or {}).get("summary"),
             "reported_at": local_time((row["latest_report"] or {}).get("submitted_at"), calendar),
             "kind_name": "督办事项"}
            for group in report["departments"] for row in group["items"]]
    rows += [{**row, "kind_name": PROBLEM_KIND_NAMES[kind], "light_name": None}
             for kind, problems in report.get("problems", {}).items() for row in problems]
    week = report["week"]
    return _download(format_, WEEKLY_COLUMNS, rows, f"weekly-{week}", f"周报 {reports.week_title(week)}")


def ranking_file(format_, report):
    """The monthly ranking (``reports.ranking``) as a CSV or XLSX response."""
    month = report["month"]
    return _tabular(format_, report, RANKING_COLUMNS, f"ranking-{month}", f"排名 {reports.month_title(month)}")


def year_file(format_, report):
    """The year-end statistics (``reports.year_end``) as a CSV or XLSX response."""
    year = report["year"]
    return _tabular(format_, report, YEAR_COLUMNS, f"year-{year}", f"年度考核 {year}")


def _tabular(format_, report, columns, filename, title):
    rows = [{**row, "on_time_rate_pct": _pct(row.get("on_time_rate")),
             "rectification_rate_pct": _pct(row.get("rectification_rate")),
             "combined_rate_pct": _pct(row.get("combined_rate")),
             "closure_rate_pct": _pct(row.get("closure_rate")), "average_rating": rating_name(row["average_rating"])}
            for row in report["departments"]]
    return _download(format_, columns, rows, filename, title)


def _pct(rate):
    return round(rate * 100, 1) if rate is not None else None


def _download(format_, columns, rows, filename, title):
    if format_ == "csv":
        return csv_response(columns, rows, filename)
    return xlsx_response(columns, rows, filename, title)


class SnapshotQuery(Page):
    kind = String(validate=OneOf(("weekly", "ranking")))


class SnapshotOut(Schema):
    kind = String(required=True)
    period = String(required=True)
    created_at = String(required=True)


class SnapshotPage(Schema):
    items = List(Nested(SnapshotOut), required=True)
    total = Integer(required=True)


class SnapshotDetail(SnapshotOut):
    data = Dict(required=True)


def _snapshot_out(row):
    return {"kind": row.kind, "period": row.period, "created_at": row.created_at.isoformat()}


@bp.get("/reports/snapshots")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.input(SnapshotQuery, location="query", arg_name="query")
@bp.output(SnapshotPage)
@bp.doc(summary="Reports as the periodic jobs stored them (weekly report each reporting day, "
                "the ranking each month), newest first", responses=[403])
def snapshots(query):
    statement = select(ReportSnapshot)
    if query.get("kind"):
        statement = statement.where(ReportSnapshot.kind == query["kind"])
    with engine().db.read() as session:
        total = session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = session.scalars(statement.order_by(ReportSnapshot.created_at.desc(), ReportSnapshot.id.desc())
                               .limit(query["limit"]).offset(query["offset"]))
        return {"items": [_snapshot_out(r) for r in rows], "total": total}


@bp.get("/reports/snapshots/<kind>/<period>")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.output(SnapshotDetail)
@bp.doc(summary="One stored report with its figures", responses=[403, 404])
def snapshot(kind, period):
    with engine().db.read() as session:
        row = session.scalar(select(ReportSnapshot).where(ReportSnapshot.kind == kind,
                                                          ReportSnapshot.period == period))
        if row is None:
            abort(404, "not_found", f"no {kind} snapshot for {period}")
        data = reports.weekly_for(session, row.data, current_actor()) if kind == "weekly" else row.data
        return {**_snapshot_out(row), "data": data}
