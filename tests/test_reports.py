"""Reports against a history built with the simulated clock, checked against hand-computed figures.

History (2026, around the National Day holiday Oct 1–7; Sat Oct 10 is a 调休 working day):
- A (d1): dispatched Mon 9/28 09:00; plan on time; report 1 due Wed 9/30 12:00 (Fri and Thu
  are holidays) submitted 10/8 (late); report 2 due 10/9 12:00 on time, done; recheck fails
  Sat 10/10; report 3 due 10/16 12:00 on time; closed 10/16, rated excellent.
- B (d2): dispatched 9/28; plan due 9/30 18:00 submitted 10/8 (late); returned; redraft due
  Sat 10/10 18:00 (调休) submitted 10/12 (late); filed; report due 10/16 12:00 still open.
- C (d3): dispatched Mon 10/19 09:00; plan due 10/21 18:00.
Timers fire as the clock moves, so each overdue step escalates: d1 on 9/30 12:00 (A report 1),
d2 on 9/30 18:00 (B plan), 10/10 18:00 (B redraft) and 10/16 12:00 (B report). The supervisor
answers A's and B's first with a reminder on 10/8, B's second with an accountability measure on
10/12 (通报批评, level 2); B's third stays open.
Now: Tue 10/20 09:00.
"""
import csv
import datetime as dt
import io

import openpyxl
import pytest
from sqlalchemy import select

from tests.api_client import Server
from tests.conftest import BOTH_DATABASES, LEADER, SECRETARY, deploy_shipped
from tests.helpers import ITEM, PLAN, complete, new_item
from engine.actor import Actor
from workflows.supervision import reports

D1 = Actor("zhang", frozenset({"staff"}), "d1")
D2 = Actor("wang", frozenset({"staff"}), "d2")
DEPARTMENTS = {"office": "政府办公室", "d1": "发展和改革委员会", "d2": "住房和城乡建设局", "d3": "教育局"}


SUPERVISOR = Actor("sup", frozenset({"supervisor"}), "office")


def at(engine, moment):
    engine.advance_clock(to=dt.datetime.fromisoformat(f"2026-{moment}:00+08:00"))


def handle(engine, item_id, action):
    complete(engine, SUPERVISOR, "handle_escalation", {"action": action, "comment": "处理"}, item_id)


def report(progress, done, summary="进展"):
    data = {"progress": progress, "summary": summary, "done": done}
    return {**data, "completion_report": "办结报告"} if done else data


@pytest.fixture
def history(engine_factory):
    engine = engine_factory(clock={"start": "2026-09-28T09:00:00+08:00"})
    deploy_shipped(engine, "accountability.dmn", "supervision.bpmn")
    a = new_item(engine, SECRETARY, department="d1", co_departments=[], title="事项A")
    b = new_item(engine, SECRETARY, department="d2", co_departments=[], title="事项B")
    at(engine, "09-29T10:00"); complete(engine, D1, "draft_plan", PLAN, a.id)
    at(engine, "09-29T11:00"); complete(engine, LEADER, "approve_plan", {"approved": True}, a.id)
    at(engine, "09-29T12:00"); complete(engine, SECRETARY, "file_plan", {}, a.id)
    at(engine, "10-08T09:00"); complete(engine, D2, "draft_plan", PLAN, b.id)
    at(engine, "10-08T09:30"); handle(engine, a.id, "remind"); handle(engine, b.id, "remind")
    at(engine, "10-08T10:00"); complete(engine, D1, "report_progress", report(60, False, "A一"), a.id)
    complete(engine, LEADER, "approve_plan", {"approved": False, "comment": "退回"}, b.id)
    at(engine, "10-09T11:00"); complete(engine, D1, "report_progress", report(100, True, "A二"), a.id)
    at(engine, "10-10T10:00"); complete(engine, SECRETARY, "recheck", {"passed": False, "findings": "x"}, a.id)
    at(engine, "10-12T09:00"); complete(engine, D2, "draft_plan", PLAN, b.id)
    at(engine, "10-12T09:30"); handle(engine, b.id, "accountability")
    at(engine, "10-12T10:00"); complete(engine, LEADER, "approve_plan", {"approved": True}, b.id)
    at(engine, "10-12T11:00"); complete(engine, SECRETARY, "file_plan", {}, b.id)
    at(engine, "10-14T10:00"); complete(engine, D1, "report_progress", report(100, True, "A三"), a.id)
    at(engine, "10-15T10:00"); complete(engine, SECRETARY, "recheck", {"passed": True, "findings": "y"}, a.id)
    at(engine, "10-16T10:00"); complete(engine, LEADER, "confirm_close", {"rating": "excellent"}, a.id)
    at(engine, "10-19T09:00"); c = new_item(engine, SECRETARY, department="d3", co_departments=[], title="事项C")
    at(engine, "10-20T09:00")
    return engine, a, b, c


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
        from workflows.supervision.models import Measure

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


def test_downloads_over_http(history):
    engine, *_ = history
    server = Server(engine).seed()
    try:
        from api.models import Department

        with engine.db.write() as session:
            session.add(Department(code="d3", name="教育局"))
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

        assert sec.get("/api/v1/reports/year", params={"year": 2026}).json()["departments"][0]["department"] == "d1"
        assert sec.get("/api/v1/reports/weekly", params={"week": "2026-W60"}).status_code == 400
        assert sec.get("/api/v1/reports/ranking", params={"month": "2026-13"}).status_code == 400
        assert server.login("zhang").get("/api/v1/reports/weekly").status_code == 403
        assert server.login("zhang").get("/api/v1/reports/ranking").status_code == 200
    finally:
        server.stop()
