"""Periodic jobs: the weekly report on the reporting day, the month's ranking, each once."""
import datetime as dt
import threading

from sqlalchemy import func, select

from engine.models import JobRun
from engine.registry import Registry
from engine.runtime import Engine
from tests.conftest import BOTH_DATABASES, SECRETARY, make_config
from tests.helpers import new_item
from tests.test_web_pages import Web
from workflows.supervision.models import Notification, ReportSnapshot
from workflows.supervision.periodic import monthly_occurrence, weekly_occurrence


def at(text):
    return dt.datetime.fromisoformat(text)


def test_occurrences_follow_the_reporting_day(engine):
    assert weekly_occurrence(engine, at("2026-11-27T11:59:00+08:00")) is None
    assert weekly_occurrence(engine, at("2026-11-27T12:00:00+08:00")) == "2026-W48"
    assert weekly_occurrence(engine, at("2026-11-29T20:00:00+08:00")) == "2026-W48"
    # Fri Oct 2 and Thu Oct 1 are holidays: that week reports on Wed Sep 30
    assert weekly_occurrence(engine, at("2026-09-30T12:00:00+08:00")) == "2026-W40"
    assert weekly_occurrence(engine, at("2026-10-06T12:00:00+08:00")) is None  # a week with no working day
    assert monthly_occurrence(engine, at("2026-12-01T00:00:00+08:00")) == "2026-11"
    assert monthly_occurrence(engine, at("2026-01-15T00:00:00+08:00")) == "2025-12"


def _snapshots(engine):
    with engine.db.read() as session:
        return sorted((s.kind, s.period) for s in session.scalars(select(ReportSnapshot)))


@BOTH_DATABASES
def test_each_occurrence_runs_once_across_processes(engine_factory, supervision):
    first = supervision
    second = engine_factory()  # another process on the same database and shared clock
    new_item(first, SECRETARY)
    first.advance_clock(to=at("2026-11-27T12:00:01+08:00"))
    assert sorted(first.periodic.run_due()) == [("monthly_ranking", "2026-10"), ("monthly_reports", "2026-11"),
                                                 ("weekly_report", "2026-W48")]
    assert second.periodic.run_due() == [] and first.periodic.run_due() == []
    assert _snapshots(first) == [("ranking", "2026-10"), ("weekly", "2026-W48")]
    with first.db.read() as session:
        weekly = session.scalar(select(ReportSnapshot).where(ReportSnapshot.kind == "weekly"))
    assert weekly.data["total"] == 1 and weekly.data["week"] == "2026-W48"

    second.advance_clock(to=at("2026-12-01T00:00:01+08:00"))
    assert second.periodic.run_due() == [("monthly_ranking", "2026-11")]


@BOTH_DATABASES
def test_simultaneous_ticks_run_an_occurrence_once(engine_factory, supervision):
    engines = [supervision, engine_factory(), engine_factory(), engine_factory()]
    barrier, ran = threading.Barrier(len(engines)), []

    def tick(engine):
        barrier.wait()
        ran.extend(engine.periodic.run_due())
    threads = [threading.Thread(target=tick, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ran) == [("monthly_ranking", "2026-10")]  # Monday 11-23: no weekly report yet
    with supervision.db.read() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 1


def test_a_failing_job_is_tried_again_next_tick(database_url):
    calls = []

    def flaky(engine, session, occurrence, now):
        calls.append(occurrence)
        if len(calls) == 1:
            raise RuntimeError("report store unavailable")
    registry = Registry()
    registry.periodic("flaky", lambda engine, now: "once", flaky)
    engine = Engine(make_config(database_url), registry)
    assert engine.periodic.run_due() == []
    assert engine.periodic.run_due() == [("flaky", "once")]
    assert engine.periodic.run_due() == []
    assert calls == ["once", "once"]
    engine.close()


def test_leaders_and_secretariat_are_told_over_http(server):
    server.engine.advance_clock(to=at("2026-11-27T12:00:01+08:00"))
    server.engine.periodic.run_due()
    with server.engine.db.read() as session:
        told = set(session.scalars(select(Notification.username).where(Notification.kind == "weekly_report")))
    assert told == {"boss", "boss2", "sec"}
    sec = server.login("sec")
    listed = sec.get("/api/v1/reports/snapshots", params={"kind": "weekly"}).json()
    assert [s["period"] for s in listed["items"]] == ["2026-W48"]
    detail = sec.get("/api/v1/reports/snapshots/weekly/2026-W48").json()
    assert detail["data"]["week"] == "2026-W48"
    with server.engine.db.read() as session:  # the week as users read it, not the ISO code
        titles = set(session.scalars(select(Notification.title).where(Notification.kind == "weekly_report")))
    assert titles == {"2026年第48周督办周报已生成"}
    page = Web(server.app, "sec").get("/notifications").text  # the kind by its Chinese label
    assert '<span class="badge">督办周报</span>' in page and ">weekly_report<" not in page
    with server.engine.db.write() as session:  # a notice stored before weeks were named in words
        session.get(Notification, session.scalar(select(Notification.id).where(
            Notification.username == "sec", Notification.kind == "weekly_report"))).title = "2026-W48 督办周报已生成"
    assert "2026年第48周 督办周报已生成" in Web(server.app, "sec").get("/notifications").text
    assert sec.get("/api/v1/reports/snapshots/weekly/2030-W01").status_code == 404
    assert server.login("zhang").get("/api/v1/reports/snapshots").status_code == 403


def test_the_monthly_snapshot_ranks_every_department_like_the_live_ranking(history_server):
    """The stored ranking is the month's figures of record: every ranked department (not the
    overseeing office, the secretariat's and supervisors'), not an empty list."""
    engine = history_server.engine
    engine.advance_clock(to=at("2026-11-01T00:00:01+08:00"))
    assert ("monthly_ranking", "2026-10") in engine.periodic.run_due()
    sec = history_server.login("sec")
    stored = sec.get("/api/v1/reports/snapshots/ranking/2026-10").json()["data"]
    live = sec.get("/api/v1/reports/ranking", params={"month": "2026-10"}).json()
    assert stored == live
    rows = {row["department"]: row for row in stored["departments"]}
    assert sorted(rows) == ["d1", "d2", "d3"]
    # tests/report_history.py: d1 had both its October steps on time and A closed, rated excellent;
    # d3 let C's plan (due 10/21) fall overdue, d2 was late with both its steps and was given a
    # measure (same rate as d3, more overdue steps).
    assert ({k: rows["d1"][k] for k in ("rank", "steps_due", "steps_on_time", "on_time_rate", "average_rating")}
            == {"rank": 1, "steps_due": 2, "steps_on_time": 2, "on_time_rate": 1.0, "average_rating": 3.0})
    assert ({k: rows["d3"][k] for k in ("rank", "steps_due", "overdue_steps", "on_time_rate", "escalations")}
            == {"rank": 2, "steps_due": 1, "overdue_steps": 1, "on_time_rate": 0.0, "escalations": 1})
    assert ({k: rows["d2"][k] for k in ("rank", "steps_due", "overdue_steps", "on_time_rate", "measures")}
            == {"rank": 3, "steps_due": 2, "overdue_steps": 2, "on_time_rate": 0.0, "measures": 1})
    assert rows["d1"]["name"] == "发展和改革委员会"
