"""Reports against a history built with the simulated clock, checked against hand-computed figures.

The history (three items around the 2026 National Day holiday, now Tue 10/20 09:00) is told
in tests/report_history.py; the ``history`` and ``history_server`` fixtures are in conftest.py.
"""
import csv
import io

import openpyxl
from sqlalchemy import select

from engine.directory import Person
from tests.conftest import BOTH_DATABASES, SECRETARY
from tests.report_history import D2, DEPARTMENTS
from workflows.supervision import queries, reports
from workflows.supervision.models import Measure


def _figures(rows, *fields):
    return {row["department"]: tuple(row[f] for f in fields) for row in rows}


FIELDS = ("rank", "items_handled", "steps_due", "steps_on_time", "overdue_steps", "on_time_rate",
          "items_closed", "average_rating", "escalations", "measures")


@BOTH_DATABASES
def test_monthly_ranking(history):
    engine, *_ = history
    with engine.db.read() as session:
        october = reports.ranking(session, engine.calendar, "2026-10", engine.clock.now(), DEPARTMENTS)
        september = reports.ranking(session, engine.calendar, "2026-09", engine.clock.now(), DEPARTMENTS)
    assert [r["department"] for r in october["departments"]] == ["d1", "d2", "d3", "office"]
    assert _figures(october["departments"], *FIELDS) == {
        "d1": (1, 1, 2, 2, 0, 1.0, 1, 3.0, 0, 0),
        "d2": (2, 1, 2, 0, 2, 0.0, 0, None, 2, 1),
        "d3": (3, 1, 1, 0, 0, None, 0, None, 0, 0),
        "office": (4, 0, 0, 0, 0, None, 0, None, 0, 0),
    }
    assert _figures(september["departments"], *FIELDS) == {
        "d1": (1, 1, 2, 1, 1, 0.5, 0, None, 1, 0),
        "d2": (2, 1, 1, 0, 1, 0.0, 0, None, 1, 0),
        "d3": (3, 0, 0, 0, 0, None, 0, None, 0, 0),
        "office": (4, 0, 0, 0, 0, None, 0, None, 0, 0),
    }


@BOTH_DATABASES
def test_ranking_trend_and_lights_now(history):
    engine, a, b, c = history
    with engine.db.read() as session:
        trend = reports.ranking_trend(session, engine.calendar, "2026-10", engine.clock.now(), DEPARTMENTS)
        september = reports.ranking_trend(session, engine.calendar, "2026-09", engine.clock.now(), DEPARTMENTS,
                                          months=3)
        lights_now = queries.light_counts(session, SECRETARY, engine.calendar, engine.clock.now())
        lights_d2 = queries.light_counts(session, D2, engine.calendar, engine.clock.now())
    # 12 months asked; the leading months without a decided step are dropped down to 6
    assert trend["months"] == ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    assert trend["overall"] == [None, None, None, None, 0.3333, 0.5]  # Sep 1 of 3 on time, Oct 2 of 4
    rates = {d["department"]: d["rates"][-2:] for d in trend["departments"]}
    assert rates == {"d1": [0.5, 1.0], "d2": [0.0, 0.0], "d3": [None, None], "office": [None, None]}
    assert september["months"] == ["2026-07", "2026-08", "2026-09"]
    assert reports.months_up_to("2027-02", 4) == ["2026-11", "2026-12", "2027-01", "2027-02"]
    # open now: B red (report overdue since 10/16), C green (plan due 10/21 18:00); A is closed
    assert lights_now == {"green": 1, "yellow": 0, "red": 1}
    assert lights_d2 == {"green": 0, "yellow": 0, "red": 1}  # staff count within their scope


@BOTH_DATABASES
def test_year_end_statistics(history):
    engine, *_ = history
    with engine.db.read() as session:
        year = reports.year_end(session, engine.calendar, 2026, engine.clock.now(), DEPARTMENTS)
    assert _figures(year["departments"], *FIELDS, "closure_rate") == {
        "d1": (1, 1, 4, 3, 1, 0.75, 1, 3.0, 1, 0, 1.0),
        "d2": (2, 1, 3, 0, 3, 0.0, 0, None, 3, 1, 0.0),
        "d3": (3, 1, 1, 0, 0, None, 0, None, 0, 0, 0.0),
        "office": (4, 0, 0, 0, 0, None, 0, None, 0, 0, None),
    }
    with engine.db.read() as session:
        measure = session.scalars(select(Measure)).one()
    assert (measure.department, measure.measure) == ("d2", "通报批评")


@BOTH_DATABASES
def test_weekly_report(history):
    engine, a, b, c = history
    with engine.db.read() as session:
        this_week = reports.weekly(session, engine.calendar, "2026-W43", engine.clock.now(), DEPARTMENTS)
        holiday_week = reports.weekly(session, engine.calendar, "2026-W41", engine.clock.now(), DEPARTMENTS)
    assert this_week["as_of"] == "2026-10-20T01:00:00+00:00" and this_week["total"] == 2
    rows = {row["code"]: row for group in this_week["departments"] for row in group["items"]}
    assert [g["department"] for g in this_week["departments"]] == ["d2", "d3"]
    assert (rows[b.code]["current_step"], rows[b.code]["light"], rows[b.code]["days_overdue"],
            rows[b.code]["latest_report"]) == ("进度反馈", "red", 2, None)
    assert (rows[c.code]["current_step"], rows[c.code]["light"], rows[c.code]["days_overdue"]) == \
        ("制定工作计划", "green", 0)

    rows = {row["code"]: row for group in holiday_week["departments"] for row in group["items"]}
    assert set(rows) == {a.code, b.code}
    assert (rows[a.code]["current_step"], rows[a.code]["light"], rows[a.code]["days_overdue"]) == \
        ("进度反馈", "green", 0)
    assert rows[a.code]["latest_report"]["summary"] == "A二"
    assert rows[a.code]["latest_report"]["progress"] == 100
    assert (rows[b.code]["current_step"], rows[b.code]["light"], rows[b.code]["days_overdue"]) == \
        ("制定工作计划", "red", 1)


def test_downloads_over_http(history_server):
    server = history_server
    sec = server.login("sec")
    ranking = sec.get("/api/v1/reports/ranking", params={"month": "2026-10"}).json()
    assert [r["department"] for r in ranking["departments"]][:2] == ["d1", "d2"]

    response = sec.get("/api/v1/reports/ranking", params={"month": "2026-10", "format": "csv"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode("utf-8"))
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["排名", "部门", "办理事项"]
    assert table[1][:2] == ["1", "发展和改革委员会"] and table[1][5] == "100.0"

    response = sec.get("/api/v1/reports/ranking", params={"month": "2026-10", "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert [c.value for c in sheet[2]][:6] == [1, "发展和改革委员会", 1, 2, 2, 100.0]
    assert [c.value for c in sheet[3]][:9] == [2, "住房和城乡建设局", 1, 2, 0, 0.0, 2, 2, 1]

    weekly = sec.get("/api/v1/reports/weekly", params={"week": "2026-W43", "format": "xlsx"})
    rows = list(openpyxl.load_workbook(io.BytesIO(weekly.content)).active.values)
    assert rows[0][0] == "承办部门" and len(rows) == 3 and rows[1][6] == "红"

    # cells as the pages show them: the leader's name, the report's local time, the average as 优/良/差
    weekly = sec.get("/api/v1/reports/weekly", params={"week": "2026-W41", "format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(weekly.content)).active
    header, *rows = book.values
    row_a = dict(zip(header, next(r for r in rows if r[2] == "事项A")))
    assert (row_a["分管领导"], row_a["反馈时间"], row_a["最新进展"]) == ("分管领导赵", "2026-10-09 11:00", "A二")
    assert book.title == "周报 2026年第41周"
    ranking_rows = list(csv.reader(io.StringIO(sec.get("/api/v1/reports/ranking", params={
        "month": "2026-10", "format": "csv"}).content.decode("utf-8-sig"))))
    rating = ranking_rows[0].index("平均评价")  # (the problems' columns follow it: issue 15)
    assert [r[rating] for r in ranking_rows[1:]] == ["优", "", ""]
    # the overseeing office (the secretariat's and the supervisors' department) is not ranked
    assert [r["department"] for r in ranking["departments"]] == ["d1", "d2", "d3"]
    assert [r[1] for r in ranking_rows[1:]] == ["发展和改革委员会", "住房和城乡建设局", "教育局"]

    assert sec.get("/api/v1/reports/year", params={"year": 2026}).json()["departments"][0]["department"] == "d1"
    assert sec.get("/api/v1/reports/weekly", params={"week": "2026-W60"}).status_code == 400
    assert sec.get("/api/v1/reports/ranking", params={"month": "2026-13"}).status_code == 400
    assert server.login("zhang").get("/api/v1/reports/weekly").status_code == 403
    assert server.login("zhang").get("/api/v1/reports/ranking").status_code == 200


def test_average_rating_grades():
    """The nearest rating, halves up (excellent 3, good 2, poor 1)."""
    grades = {None: None, 3.0: "excellent", 2.5: "excellent", 2.49: "good", 2.0: "good", 1.5: "good",
              1.49: "poor", 1.0: "poor"}
    assert {average: reports.rating_grade(average) for average in grades} == grades


class _Directory:
    """Who holds which role in which department, as ``engine.directory.Directory`` answers."""
    PEOPLE = {"sec": ("office", "secretariat"), "sup": ("inspect", "supervisor"), "boss": ("office", "leader"),
              "admin": ("it", "admin"), "gone": (None, "supervisor")}

    def users(self, session, role=None, department=None):
        return sorted(u for u, (_, held) in self.PEOPLE.items() if role in (None, held))

    def person(self, session, username):
        department, role = self.PEOPLE[username]
        return Person(username, username, department, frozenset({role}))

    def departments(self, session):
        return {"office": "政府办公室", "inspect": "督查室", "it": "信息中心", "d1": "发展和改革委员会"}


def test_ranked_departments_leave_out_the_overseeing_offices():
    """The secretariat's and supervisors' departments are not ranked; an admin's is."""
    assert reports.ranked_departments(None, _Directory()) == {"it": "信息中心", "d1": "发展和改革委员会"}
