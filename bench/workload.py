"""The supervision loop every benchmark drives: dispatch → plan → approve → file → 2 reports →
recheck → close (one start and seven task completions), and the people who work it."""
import itertools

from engine.actor import Actor

PLAN = {"owner": "张三", "milestones": [{"date": "2026-12-15", "target": "方案落地"}],
        "measures": "专班推进", "expected_result": "按期完成"}
REPORT = {"progress": 40, "summary": "推进中", "done": False}
DONE_REPORT = {"progress": 100, "summary": "已完成", "done": True, "completion_report": "办结报告"}
ITEM = {"title": "推进政务服务一网通办", "basis": "meeting_decision", "department": "d1",
        "co_departments": [], "leader": "boss", "deadline": "2026-12-31",
        "requirements": "每周五前反馈进展"}

# (task key, who works it, form data)
STEPS = (
    ("draft_plan", "staff", PLAN),
    ("approve_plan", "leader", {"approved": True}),
    ("file_plan", "sec", {"note": "备案"}),
    ("report_progress", "staff", REPORT),
    ("report_progress", "staff", DONE_REPORT),
    ("recheck", "sec", {"passed": True, "findings": "属实"}),
    ("confirm_close", "leader", {"rating": "excellent"}),
)
COMPLETIONS_PER_LOOP = len(STEPS)

SECRETARY = Actor("sec", frozenset({"secretariat"}), "office")
LEADER = Actor("boss", frozenset({"leader"}), "office")


def staff(department):
    return Actor(f"staff_{department}", frozenset({"staff"}), department)


def item_data(department="d1", n=0):
    return {**ITEM, "department": department, "title": f"{ITEM['title']} #{n}"}


def actors(department):
    return {"staff": staff(department), "leader": LEADER, "sec": SECRETARY}


_counter = itertools.count()


def next_number():
    return next(_counter)
