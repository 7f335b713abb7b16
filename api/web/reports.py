"""报表: 周报, 月度排名 (with ECharts charts), 打印版通报, 年度考核, and their downloads.

Every figure comes from ``workflows.supervision.reports`` (its docstring defines them) and
every download from ``api.reports``' ``weekly_file`` / ``ranking_file`` / ``year_file`` (the
API's own CSV/XLSX): nothing is computed twice. The charts get their data as JSON embedded
in the page (``tojson``), not from the bearer-token API.

Who may read: as the API — the weekly report and the year-end statistics are for the
secretariat, leaders and supervisors (admin passes every check); the monthly ranking is
published to every department, so any logged-in user may read it and its circular.
"""
import datetime as dt
import re

from flask import g, render_template, request
from sqlalchemy import select

from api import reports as api_reports
from api.runtime import engine
from api.web import bp
from api.web.lookups import department_names, user_names
from api.web.session import error_page, login_required, roles_required
from workflows import access
from workflows.supervision import monthly, queries, reports
from workflows.supervision.models import Item

READERS = api_reports.READERS                # 周报, 年度考核
WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TREND_MONTHS = 12


class BadPeriod(Exception):
    """A week, month or year the pickers would not produce: shown as a 400 page."""


@bp.errorhandler(BadPeriod)
def bad_period(err):
    return error_page(400, "请求有误。", str(err))


def _now():
    rt = engine()
    now = rt.clock.now()
    return now, rt.calendar.local(now)


def _week():
    week = request.args.get("week", "").strip() or api_reports.this_week(_now()[1])
    if not WEEK.match(week) or not api_reports.is_iso_week(week):
        raise BadPeriod(f"周次“{week}”无效，请从页面上的周次选择。")
    return week


def _month():
    month = request.args.get("month", "").strip() or api_reports.this_month(_now()[1])
    if not MONTH.match(month) or not api_reports.FIRST_YEAR <= int(month[:4]) <= api_reports.LAST_YEAR:
        raise BadPeriod(f"月份“{month}”无效，应为如 2026-11 的年月。")
    return month


def _year():
    year = request.args.get("year", "").strip()
    if not year:
        return _now()[1].year
    if not year.isdigit() or not api_reports.FIRST_YEAR <= int(year) <= api_reports.LAST_YEAR:
        raise BadPeriod(f"年度“{year}”无效，应为 {api_reports.FIRST_YEAR} 至 {api_reports.LAST_YEAR} 之间的年份。")
    return int(year)


def _report(function, period):
    """``function`` (ranking, year-end) over the ranked departments (not the overseeing offices;
    a county's overseers: their subtree's)."""
    rt = engine()
    with rt.db.read() as session:
        departments = api_reports.within_reach(session, api_reports.ranked(session), g.actor)
        return function(session, rt.calendar, period, rt.clock.now(), departments)


def _weekly(week):
    """The weekly report as the reader may see it (``reports.weekly_for``)."""
    rt, departments = engine(), department_names()
    with rt.db.read() as session:
        report = reports.weekly(session, rt.calendar, week, rt.clock.now(), departments)
        return reports.weekly_for(session, report, g.actor)


def _shift_week(week, weeks):
    year, number = week.split("-W")
    monday = dt.date.fromisocalendar(int(year), int(number), 1) + dt.timedelta(weeks=weeks)
    return api_reports.this_week(monday)


def _shift_month(month, months):
    index = int(month[:4]) * 12 + int(month[5:]) - 1 + months
    return f"{index // 12}-{index % 12 + 1:02d}"


month_title = reports.month_title


def chinese_date(value):
    return f"{value.year}年{value.month}月{value.day}日"


# -- 周报 -----------------------------------------------------------------------------------
@bp.get("/reports/weekly")
@roles_required(*READERS)
def report_weekly():
    week = _week()
    report = _weekly(week)
    rows = [row for group in report["departments"] for row in group["items"]]
    counts = {light: sum(1 for row in rows if row["light"] == light) for light in ("red", "yellow", "green")}
    with engine().db.read() as db:  # link only the items the reader may open (a leader: theirs)
        visible = set(db.scalars(queries.scope(select(Item.id), g.actor).where(
            Item.id.in_([row["item_id"] for row in rows])))) if rows else set()
    year, number = week.split("-W")
    monday = dt.date.fromisocalendar(int(year), int(number), 1)
    return render_template("report_weekly.html", report=report, week=week, counts=counts, visible=visible,
                           users=user_names(), monday=monday, sunday=monday + dt.timedelta(days=6),
                           week_number=int(number), week_year=int(year),
                           previous=_shift_week(week, -1), following=_shift_week(week, 1))


@bp.get("/reports/weekly.<any(csv, xlsx):fmt>")
@roles_required(*READERS)
def report_weekly_download(fmt):
    return api_reports.weekly_file(fmt, _weekly(_week()))


# -- 月度排名 --------------------------------------------------------------------------------
@bp.get("/reports/ranking")
@login_required
def report_ranking():
    rt = engine()
    month = _month()
    now = rt.clock.now()
    with rt.db.read() as session:
        departments = api_reports.within_reach(session, api_reports.ranked(session), g.actor)
        report = reports.ranking(session, rt.calendar, month, now, departments)
        trend = reports.ranking_trend(session, rt.calendar, month, now, departments, TREND_MONTHS)
        lights_now = queries.light_counts(session, g.actor, rt.calendar, now)
    chart = {
        "ranking": [{"department": row["department"], "name": row["name"], "rate": _pct(row["on_time_rate"]),
                     "on_time": row["steps_on_time"], "overdue": row["overdue_steps"]}
                    for row in report["departments"] if row["on_time_rate"] is not None],
        "trend": {"months": trend["months"], "overall": [_pct(rate) for rate in trend["overall"]],
                  "departments": [{"name": d["name"], "rates": [_pct(rate) for rate in d["rates"]]}
                                  for d in trend["departments"] if any(r is not None for r in d["rates"])]},
        "lights": lights_now,
    }
    return render_template("report_ranking.html", report=report, month=month, chart=chart,
                           lights_scope_all=access.sees_every_item(g.actor),
                           previous=_shift_month(month, -1), following=_shift_month(month, 1),
                           title=month_title(month))


@bp.get("/reports/ranking.<any(csv, xlsx):fmt>")
@login_required
def report_ranking_download(fmt):
    return api_reports.ranking_file(fmt, _report(reports.ranking, _month()))


@bp.get("/reports/ranking/print")
@login_required
def report_ranking_print():
    """打印版通报: the ranking as a circular for publication (A4; the print CSS hides the rest)."""
    month = _month()
    report = _report(reports.ranking, month)
    calendar = engine().calendar
    start, end, as_of = (calendar.local(dt.datetime.fromisoformat(report[key])) for key in ("start", "end", "as_of"))
    last_day = max((as_of - dt.timedelta(days=1)).date() if as_of == end else as_of.date(),  # end is exclusive
                   start.date())
    return render_template("report_print.html", report=report, month=month, title=month_title(month),
                           summary=circular_summary(report, month_title(month)), issued=chinese_date(_now()[1]),
                           period=(chinese_date(start.date()), chinese_date(last_day)))


circular_summary = reports.circular_summary


# -- 年度考核 --------------------------------------------------------------------------------
@bp.get("/reports/year")
@roles_required(*READERS)
def report_year():
    year = _year()
    report = _report(reports.year_end, year)
    rows = report["departments"]
    handled = sum(r["items_handled"] for r in rows)
    closed = sum(r["items_closed"] for r in rows)
    return render_template("report_year.html", report=report, year=year, handled=handled, closed=closed,
                           closure_rate=closed / handled if handled else None, users=user_names(),
                           departments=department_names())


@bp.get("/reports/year.<any(csv, xlsx):fmt>")
@roles_required(*READERS)
def report_year_download(fmt):
    return api_reports.year_file(fmt, _report(reports.year_end, _year()))


def _pct(rate):
    return round(rate * 100, 1) if rate is not None else None


@bp.app_template_filter("percent")
def percent(rate):
    """A rate 0..1 as ``"75.0%"``; none as an em dash."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


@bp.app_template_filter("rating")
def rating(average):
    """An average rating as 优/良/差 (``reports.rating_grade``, as the downloads); none as an em dash."""
    return api_reports.rating_name(average) or "—"


# -- 月度调度 (一月一调度) ------------------------------------------------------------------
@bp.get("/reports/monthly")
@roles_required(*READERS)
def report_monthly():
    """The month's key items with their monthly reports; the lagging flagged for 现场督查."""
    rt, month = engine(), _month()
    with rt.db.read() as session:
        digest = monthly.digest(session, rt.calendar, month, rt.clock.now(), department_names())
    return render_template("report_monthly.html", digest=digest, month=month, title=month_title(month),
                           previous=_shift_month(month, -1), following=_shift_month(month, 1))
