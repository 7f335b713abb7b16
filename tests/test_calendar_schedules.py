"""A year without an official schedule, an entered schedule, and moving open tasks' due times
after it (engine.calendar, engine.calendar_schedules, engine.calendar_changes; issue 14)."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from engine.actor import Actor
from engine.calendar_changes import apply, preview
from engine.errors import Conflict, InvalidInput
from engine.models import AuditRecord, CalendarSchedule, HumanTask, Timer
from tests.conftest import BOTH_DATABASES, SECRETARY, STAFF, deploy_shipped
from tests.helpers import new_item, open_task

ADMIN = Actor("admin", frozenset({"admin"}))
# A plausible 2027 notice: 春节 2月5日至12日放假调休，共8天；2月20日（周六）上班.
SPRING_2027 = {"holidays": ["2027-01-01", *(f"2027-02-{d:02d}" for d in range(5, 13))],
               "working_days": ["2027-02-20"]}


def at(text):
    return dt.datetime.fromisoformat(text)


def supervision_at(engine_factory, start):
    return deploy_shipped(engine_factory(clock={"start": start}), "accountability.dmn", "supervision.bpmn")


def plan_due(engine, item):
    return open_task(engine, STAFF, "draft_plan", item.id).due_at


def enter(engine, schedule=SPRING_2027, year=2027):
    return engine.calendar_schedules.save(year, schedule["holidays"], schedule["working_days"], "admin")


@BOTH_DATABASES
def test_new_years_day_2027_is_not_a_plan_deadline(engine_factory):
    engine = supervision_at(engine_factory, "2026-12-30T10:00:00+08:00")
    assert plan_due(engine, new_item(engine, SECRETARY, deadline="2027-06-30")) == at("2027-01-04T18:00:00+08:00")
    assert engine.calendar.year_status(2027) == "estimated"


@BOTH_DATABASES
def test_a_plan_across_the_2027_spring_festival_lands_after_it(engine_factory):
    engine = supervision_at(engine_factory, "2027-02-04T10:00:00+08:00")  # Thu; 除夕 is Fri Feb 5
    # Feb 5 and 8 are statutory, Feb 9–10 补假 for the weekend's 初一/初二: Thu 11 is the 1st day.
    assert plan_due(engine, new_item(engine, SECRETARY, deadline="2027-06-30")) == at("2027-02-12T18:00:00+08:00")


@BOTH_DATABASES
def test_an_entered_schedule_counts_its_adjusted_saturday_in_every_process(engine_factory):
    entering = supervision_at(engine_factory, "2027-02-19T10:00:00+08:00")  # Fri
    # another process, checking for entered schedules before every command (default: each second)
    other = engine_factory(clock={"start": "2027-02-19T10:00:00+08:00"}, calendar={"refresh_seconds": 0})
    assert plan_due(other, new_item(other, SECRETARY, deadline="2027-06-30")) == at("2027-02-23T18:00:00+08:00")
    row, notes = enter(entering)
    assert row.year == 2027 and [n["date"] for n in notes] == ["2027-02-06", "2027-02-07"]  # weekend days: noted
    # The other process sees it from its next command on: Sat Feb 20 (调休) is the 1st working day.
    assert plan_due(other, new_item(other, SECRETARY, deadline="2027-06-30")) == at("2027-02-22T18:00:00+08:00")
    assert other.calendar.year_status(2027) == "entered" and other.calendar.is_working_day(dt.date(2027, 2, 20))
    with other.db.read() as session:
        record = session.scalars(select(AuditRecord).where(AuditRecord.kind == "calendar_schedule_entered")).one()
    assert record.actor == "admin" and record.data["working_days"] == ["2027-02-20"]
    assert enter(entering)[0].id == row.id  # the same schedule again: nothing new


@pytest.mark.parametrize("holidays, working_days, codes", [
    (["2028-01-01"], [], {"outside_year"}),
    (["2027-02-30", "tomorrow"], [], {"invalid_date"}),
    (["2027-02-20"], ["2027-02-20"], {"holiday_and_working"}),
    ([], ["2027-02-22"], {"working_day_not_weekend"}),
    ("2027-02-05", [], {"too_many"}),
])
def test_an_invalid_schedule_is_refused_and_nothing_is_saved(engine, holidays, working_days, codes):
    with pytest.raises(InvalidInput) as refused:
        engine.calendar_schedules.save(2027, holidays, working_days, "admin")
    assert {p["code"] for p in refused.value.problems()} == codes
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(CalendarSchedule)) == 0
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == 0
    with pytest.raises(InvalidInput):
        engine.calendar_schedules.save(1800, [], [], "admin")


def _timers(engine, instance_id):
    with engine.db.read() as session:
        return {t.task_key: (t.fire_at, t.state) for t in session.scalars(
            select(Timer).where(Timer.instance_id == instance_id))}


@BOTH_DATABASES
def test_preview_lists_the_moved_tasks_and_apply_moves_them_with_their_timers(engine_factory):
    engine = supervision_at(engine_factory, "2027-01-28T10:00:00+08:00")
    before = new_item(engine, SECRETARY, deadline="2027-06-30")  # due Mon Feb 1: not moved
    engine.advance_clock(to=at("2027-02-04T10:00:00+08:00"))
    moved = new_item(engine, SECRETARY, deadline="2027-06-30")
    task = open_task(engine, STAFF, "draft_plan", moved.id)
    assert task.due_at == at("2027-02-12T18:00:00+08:00")
    assert _timers(engine, task.instance_id)["remind_plan"] == (at("2027-02-12T09:00:00+08:00"), "waiting")

    row, _notes = enter(engine)  # Feb 11–12 off too: 2 working days after Feb 4 are Feb 15, 16
    change = preview(engine, 2027)
    assert [(m.task_id, m.title, m.old_due, m.new_due) for m in change.moves] == [
        (task.id, "制定工作计划", at("2027-02-12T18:00:00+08:00"), at("2027-02-16T18:00:00+08:00"))]
    with engine.db.read() as session:  # the earlier item's tasks stay where they are
        assert session.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.business_key == before.id, HumanTask.state == "open", HumanTask.due_at.is_not(None))) > 0

    done, skipped = apply(engine, 2027, ADMIN, schedule_id=row.id)
    assert [m.task_id for m in done] == [task.id] and skipped == []
    assert engine.tasks.get(task.id).due_at == at("2027-02-16T18:00:00+08:00")
    timers = _timers(engine, task.instance_id)
    assert timers["remind_plan"] == (at("2027-02-16T09:00:00+08:00"), "waiting")
    assert timers["escalate_plan"] == (at("2027-02-16T18:00:00+08:00"), "waiting")
    with engine.db.read() as session:
        kinds = list(session.scalars(select(AuditRecord.kind).where(AuditRecord.kind.in_(
            ("task_rescheduled", "calendar_change_applied"))).order_by(AuditRecord.seq)))
        assert session.get(CalendarSchedule, row.id).applied_by == "admin"
    assert kinds == ["task_rescheduled", "calendar_change_applied"]

    # The reminder fires at its new time, not the old one.
    engine.advance_clock(to=at("2027-02-12T12:00:00+08:00"))
    assert _timers(engine, task.instance_id)["remind_plan"][1] == "waiting"
    engine.advance_clock(to=at("2027-02-16T10:00:00+08:00"))
    assert _timers(engine, task.instance_id)["remind_plan"] == (at("2027-02-16T09:00:00+08:00"), "fired")

    with pytest.raises(Conflict) as again:
        apply(engine, 2027, ADMIN)
    assert again.value.reason == "calendar_applied"


def test_the_weekends_baseline_moves_deadlines_counted_before_the_upgrade(engine_factory):
    """A task whose due time an older version computed counting 2027 as weekends only."""
    engine = supervision_at(engine_factory, "2026-12-30T10:00:00+08:00")
    item = new_item(engine, SECRETARY, deadline="2027-06-30")
    task = open_task(engine, STAFF, "draft_plan", item.id)
    engine.tasks.reschedule(task.id, at("2027-01-01T18:00:00+08:00"), ADMIN)  # as the old count gave it
    enter(engine)
    assert preview(engine, 2027).moves == []  # against the estimate, Jan 1 was not counted
    change = preview(engine, 2027, baseline="weekends")
    assert [(m.task_id, m.new_due) for m in change.moves] == [(task.id, at("2027-01-04T18:00:00+08:00"))]
