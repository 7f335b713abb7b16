"""Working days across the 2026 National Day holiday, 调休 weekends, and years with no data."""
import datetime as dt
import logging

import pytest

from engine.calendar import BusinessCalendar
from tests.conftest import SECRETARY
from tests.helpers import new_item, open_task
from tests.conftest import STAFF
from workflows.supervision.deadlines import report_due

CN = dt.timezone(dt.timedelta(hours=8))


def at(text):
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def cal():
    return BusinessCalendar()


def test_national_day_2026(cal):
    # Oct 1–7 off; Sep 30 (Wed) and Oct 8 (Thu) are working days.
    assert not any(cal.is_working_day(dt.date(2026, 10, d)) for d in range(1, 8))
    assert cal.working_day_end(at("2026-09-30T10:00:00+08:00"), 2) == at("2026-10-09T18:00:00+08:00")


def test_adjusted_working_weekends_count(cal):
    assert cal.is_working_day(dt.date(2026, 10, 10))   # Saturday, 调休
    assert cal.is_working_day(dt.date(2026, 9, 20))    # Sunday, 调休
    assert not cal.is_working_day(dt.date(2026, 10, 11))
    assert cal.working_day_end(at("2026-10-09T15:00:00+08:00"), 2) == at("2026-10-12T18:00:00+08:00")
    assert cal.working_day_end(at("2026-09-18T09:30:00+08:00"), 1) == at("2026-09-20T18:00:00+08:00")


def test_add_working_days_keeps_time_of_day(cal):
    assert cal.add_working_days(at("2026-11-27T16:30:00+08:00"), 1) == at("2026-11-30T16:30:00+08:00")
    assert cal.add_working_days(at("2026-11-28T10:00:00+08:00"), 1) == at("2026-11-30T10:00:00+08:00")


def test_a_year_without_a_schedule_counts_the_statutory_holidays_and_warns(cal, caplog):
    # holidays 0.109 has no State Council schedule for 2027: the law's days, 补假 for weekend ones.
    with caplog.at_level(logging.WARNING, logger="engine.calendar"):
        due = cal.working_day_end(at("2027-10-01T10:00:00+08:00"), 2)  # Oct 1–5 off → Wed, Thu
    assert due == at("2027-10-07T18:00:00+08:00")
    assert cal.year_status(2027) == "estimated"
    assert "no official holiday schedule for 2027" in caplog.text
    off = {d for d in (dt.date(2027, 1, 1) + dt.timedelta(n) for n in range(365)) if not cal.is_working_day(d)
           and d.weekday() < 5}
    assert off == {dt.date(2027, 1, 1),                                  # New Year's Day
                   *(dt.date(2027, 2, d) for d in (5, 8, 9, 10)),         # 除夕–初三 (4 days) + 补假
                   dt.date(2027, 4, 5), dt.date(2027, 5, 3), dt.date(2027, 5, 4),  # Qingming; Labour Day 补假
                   dt.date(2027, 6, 9), dt.date(2027, 9, 15),             # Dragon Boat; Mid-Autumn
                   dt.date(2027, 10, 1), dt.date(2027, 10, 4), dt.date(2027, 10, 5)}  # National Day
    assert not any(cal.is_working_day(d) for d in (dt.date(2027, 2, 6), dt.date(2027, 5, 1)))  # no 调休 Saturdays


def test_a_year_the_package_does_not_know_counts_weekends_only(cal, caplog):
    with caplog.at_level(logging.WARNING, logger="engine.calendar"):
        assert cal.working_day_end(at("2101-01-03T10:00:00+08:00"), 1) == at("2101-01-04T18:00:00+08:00")
    assert cal.year_status(2101) == "weekends_only" and "no holiday data for 2101" in caplog.text


def test_configured_overrides_win_in_a_new_year(cal):
    configured = BusinessCalendar(extra_holidays=["2027-10-06"], extra_working_days=["2027-09-26"])
    assert configured.year_status(2027) == "estimated"
    assert configured.is_working_day(dt.date(2027, 9, 26))  # a Sunday made working
    assert configured.working_day_end(at("2027-09-30T10:00:00+08:00"), 2) == at("2027-10-08T18:00:00+08:00")


def test_last_working_day_start(cal):
    assert cal.last_working_day_start(at("2026-10-09T18:00:00+08:00")) == at("2026-10-09T09:00:00+08:00")
    assert cal.last_working_day_start(at("2026-10-04T18:00:00+08:00")) == at("2026-09-30T09:00:00+08:00")


@pytest.mark.parametrize("start, expected", [
    ("2026-11-23T09:00:00+08:00", "2026-11-27T12:00:00+08:00"),  # Monday → this Friday
    ("2026-11-26T14:00:00+08:00", "2026-12-04T12:00:00+08:00"),  # Thu afternoon: < 1 working day
    ("2026-11-26T11:00:00+08:00", "2026-11-27T12:00:00+08:00"),  # Thu morning: just over a day
    ("2026-09-28T09:00:00+08:00", "2026-09-30T12:00:00+08:00"),  # Fri Oct 2 off → Wed Sep 30
    ("2026-09-30T10:00:00+08:00", "2026-10-09T12:00:00+08:00"),  # across the holiday
    ("2027-03-05T09:00:00+08:00", "2027-03-12T12:00:00+08:00"),  # a year without a schedule
])
def test_report_due(cal, start, expected):
    assert report_due(cal, at(start)) == at(expected)


def test_report_due_counts_from_the_previous_due_time(cal):
    previous = at("2026-11-27T12:00:00+08:00")
    assert report_due(cal, at("2026-11-24T10:00:00+08:00"), previous) == at("2026-12-04T12:00:00+08:00")


def test_plan_due_in_the_process_across_national_day(engine_factory):
    from tests.conftest import deploy_shipped

    engine = engine_factory(clock={"start": "2026-09-30T10:00:00+08:00"})
    deploy_shipped(engine, "accountability.dmn", "supervision.bpmn")
    item = new_item(engine, SECRETARY)
    task = open_task(engine, STAFF, "draft_plan", item.id)
    assert task.due_at == at("2026-10-09T18:00:00+08:00")


def test_plan_due_in_2027_does_not_crash(engine_factory):
    from tests.conftest import deploy_shipped

    engine = engine_factory(clock={"start": "2027-06-10T10:00:00+08:00"})
    deploy_shipped(engine, "accountability.dmn", "supervision.bpmn")
    item = new_item(engine, SECRETARY)
    assert item.code == "DB-2027-0001"
    assert open_task(engine, STAFF, "draft_plan", item.id).due_at == at("2027-06-14T18:00:00+08:00")
