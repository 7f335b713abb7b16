"""Benchmark 4 — long-running items: one progress report at week 1 against week 52.

Workload: K items on the shipped supervision process (engine Python API, simulated clock,
SQLite): dispatch, plan, approve, file, then one progress report (not done) a week for W weeks.
The weekly report loop runs inside the item's own instance; Duban compacts the instance's task
tree at every save (engine.compaction), so its size follows the live part, not the age.
Measured per week: the wall time of the report's completion (median over the K items), and
the instance's task count and state JSON size. Baseline: week 1. For comparison, the naive
design: bare SpiffWorkflow without compaction, each item's own copy stepped the same way from
the same filed state (load JSON, complete the report, run, save JSON), whose tree grows every
week. Profiles of week 1 and week W are taken with pyinstrument when it is installed.
"""
import statistics
import time


from api.app import build_engine
from bench import workload
from bench.common import RESULTS, Result, engine_config, ratio
from bench.engine_ceiling import BareLoop, deploy
from bench.profiling import pyinstrument_text
from engine.models import Instance
from workflows.supervision.items import create_item

TARGET = 1.5
WEEK = 7 * 86400


def _state(engine, instance_id):
    with engine.db.read() as session:
        return session.get(Instance, instance_id).state


def _report_task(engine, staff, item_id):
    rows, _ = engine.tasks.inbox(staff, business_key=item_id)
    return next(r for r in rows if r.key == "report_progress")


def _task_count(bare, state):
    return len(bare.load(state).tasks)


def run(scratch, items=3, weeks=52, profile=True, log=print):
    engine = deploy(build_engine(engine_config(scratch.sqlite("long"))))
    bare = BareLoop(engine)
    department = "d1"
    people = workload.actors(department)
    staff = people["staff"]
    try:
        ids = []
        for n in range(items):
            item = create_item(engine, workload.item_data(department, n), people["sec"])
            for key, who, data in workload.STEPS[:3]:
                rows, _ = engine.tasks.inbox(people[who], business_key=item.id)
                engine.tasks.complete(next(r.id for r in rows if r.key == key), data, people[who])
            ids.append((item.id, item.instance_id))
        naive = {item_id: _state(engine, instance_id) for item_id, instance_id in ids}
        per_week = {}
        profiles = {}
        for week in range(1, weeks + 1):
            engine.clock.advance(seconds=WEEK)
            durations, naive_durations = [], []
            for index, (item_id, instance_id) in enumerate(ids):
                task = _report_task(engine, staff, item_id)

                def complete():
                    engine.tasks.complete(task.id, workload.REPORT, staff)
                start = time.perf_counter()
                if profile and index == 0 and week in (1, weeks):
                    _, profiles[week] = pyinstrument_text(complete)
                else:
                    complete()
                durations.append(time.perf_counter() - start)
                start = time.perf_counter()
                naive[item_id], _ = bare.step(naive[item_id], "report_progress", workload.REPORT)
                naive_durations.append(time.perf_counter() - start)
            state, naive_state = _state(engine, ids[0][1]), naive[ids[0][0]]
            per_week[week] = {"report_ms": statistics.median(durations) * 1000,
                              "naive_ms": statistics.median(naive_durations) * 1000,
                              "tasks": _task_count(bare, state), "state_kb": len(state.encode()) / 1024,
                              "naive_tasks": _task_count(bare, naive_state),
                              "naive_state_kb": len(naive_state.encode()) / 1024}
            if week in (1, 2, 13, 26, 39, weeks):
                w = per_week[week]
                log(f"  week {week}: report {w['report_ms']:.1f} ms, tree {w['tasks']} tasks, "
                    f"{w['state_kb']:.0f} KB; naive bare SpiffWorkflow {w['naive_ms']:.1f} ms, "
                    f"tree {w['naive_tasks']} tasks, {w['naive_state_kb']:.0f} KB")
    finally:
        engine.close()
    first, last = per_week[1], per_week[weeks]
    # Week 1 and W single measurements are noisy: use the median of the first and last 3 weeks.
    head = [per_week[w] for w in range(1, min(3, weeks) + 1)]
    tail = [per_week[w] for w in range(max(1, weeks - 2), weeks + 1)]
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    result = Result(
        "long_running", f"Long-running items: one progress report at week 1 vs week {weeks}",
        f"{items} items, {weeks} weekly reports each in the item's own instance (SQLite, simulated "
        "clock); per week the median over items; week 1 = median of weeks 1–3, "
        f"week {weeks} = median of the last 3",
        {"label": "report at week 1 (Duban engine API)", "value": round(med(head, "report_ms"), 2), "unit": "ms"})
    for label, key in (("Duban report", "report_ms"),
                       ("naive: bare SpiffWorkflow, no compaction, load+step+save", "naive_ms")):
        a, b = med(head, key), med(tail, key)
        result.row(f"{label}: week 1", round(a, 2), "ms", 1.0)
        result.row(f"{label}: week {weeks}", round(b, 2), "ms", ratio(b, a))
    for label, key, unit in (("task tree size", "tasks", "tasks"), ("instance state JSON", "state_kb", "KB"),
                             ("naive task tree size", "naive_tasks", "tasks"),
                             ("naive instance state JSON", "naive_state_kb", "KB")):
        result.row(label, round(last[key], 1), unit, ratio(last[key], first[key]), week_1=round(first[key], 1))
    value = ratio(med(tail, "report_ms"), med(head, "report_ms"))
    result.target(f"Duban report week {weeks} ≤ 1.5× week 1", f"<= {TARGET}", value, value <= TARGET)
    result.notes.append({"per_week": {w: {k: round(v, 2) for k, v in row.items()} for w, row in per_week.items()}})
    if profiles:
        RESULTS.mkdir(parents=True, exist_ok=True)
        for week, text in profiles.items():
            if text:
                path = RESULTS / f"long_running_week{week}.pyinstrument.txt"
                path.write_text(text, encoding="utf-8")
                result.notes.append(f"pyinstrument, one Duban report at week {week}: "
                                    f"{path.relative_to(RESULTS.parent.parent)}")
    return result
