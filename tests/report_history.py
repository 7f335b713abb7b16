"""A small known history for the reports, built with the simulated clock (tests/test_reports.py
checks every figure of it by hand; the report pages are checked against the same functions).

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
import datetime as dt

from tests.conftest import LEADER, SECRETARY, deploy_shipped
from tests.helpers import PLAN, complete, new_item
from engine.actor import Actor

START = "2026-09-28T09:00:00+08:00"
D1 = Actor("zhang", frozenset({"staff"}), "d1")
D2 = Actor("wang", frozenset({"staff"}), "d2")
SUPERVISOR = Actor("sup", frozenset({"supervisor"}), "office")
DEPARTMENTS = {"office": "政府办公室", "d1": "发展和改革委员会", "d2": "住房和城乡建设局", "d3": "教育局"}


def at(engine, moment):
    engine.advance_clock(to=dt.datetime.fromisoformat(f"2026-{moment}:00+08:00"))


def handle(engine, item_id, action):
    complete(engine, SUPERVISOR, "handle_escalation", {"action": action, "comment": "处理"}, item_id)


def report(progress, done, summary="进展"):
    data = {"progress": progress, "summary": summary, "done": done}
    return {**data, "completion_report": "办结报告"} if done else data


def build_history(engine):
    """Play the history on ``engine`` (its clock starting Mon 2026-09-28 09:00): (engine, a, b, c)."""
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
