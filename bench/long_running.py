"""Benchmark 4 — long-running items: one progress report at week 1 against week 52.

Workload: K items on the shipped supervision process (engine Python API, simulated clock,
SQLite): dispatch, plan, approve, file, then one progress report (not done) a week for W weeks.
The weekly report loop runs inside the item's own instance, so SpiffWorkflow's task tree
grows every week. Measured per week: the wall time of the report's completion (median over
the K items), the instance's task count and state JSON size, and the same step on bare
SpiffWorkflow (load JSON, complete, save JSON) from the same saved state. Baseline: week 1.
Also measured, as the proposed fix: a report cycle as its own short instance
(``report_cycle``, a bench-only BPMN: compute due → report → end), whose cost cannot grow.
Profiles of week 1 and week W are taken with pyinstrument when it is installed.
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
REPORT_CYCLE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_report_cycle"
  targetNamespace="http://duban.bench">
  <bpmn:process id="report_cycle" name="report cycle (bench prototype)" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_dept" name="承办部门">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>set_report_due</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>report_progress</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="set_report_due"><bpmn:script>report_due_at = report_due(now(), previous_due)</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="report_progress" name="进度反馈"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="dueDate" value="report_due_at"/>
      <spiffworkflow:property name="candidateDepartment" value="department"/>
    </spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="set_report_due"/>
    <bpmn:sequenceFlow id="f2" sourceRef="set_report_due" targetRef="report_progress"/>
    <bpmn:sequenceFlow id="f3" sourceRef="report_progress" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
""".encode("utf-8")
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
    engine.deploy(REPORT_CYCLE, actor="bench")
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
        per_week = {}
        profiles = {}
        for week in range(1, weeks + 1):
            engine.clock.advance(seconds=WEEK)
            durations, bare_durations, cycle_durations = [], [], []
            for index, (item_id, instance_id) in enumerate(ids):
                task = _report_task(engine, staff, item_id)
                state = _state(engine, instance_id)
                # bare SpiffWorkflow, same saved state: load, complete, save
                if profile and index == 0 and week in (1, weeks):
                    _, profiles[f"{week}_bare_x50"] = pyinstrument_text(
                        lambda: [bare.step(state, "report_progress", workload.REPORT) for _ in range(50)])
                start = time.perf_counter()
                bare.step(state, "report_progress", workload.REPORT)
                bare_durations.append(time.perf_counter() - start)

                def complete():
                    engine.tasks.complete(task.id, workload.REPORT, staff)
                start = time.perf_counter()
                if profile and index == 0 and week in (1, weeks):
                    _, profiles[week] = pyinstrument_text(complete)
                else:
                    complete()
                durations.append(time.perf_counter() - start)
                # the proposed fix: this week's report as its own short instance
                cycle = engine.instances.start("report_cycle", {"department": department, "item_id": item_id,
                                                                "previous_due": None}, people["sec"],
                                               business_key=item_id)
                rows, _ = engine.tasks.inbox(staff, instance_id=cycle.id)
                start = time.perf_counter()
                engine.tasks.complete(rows[0].id, workload.REPORT, staff)
                cycle_durations.append(time.perf_counter() - start)
            state = _state(engine, ids[0][1])
            per_week[week] = {"report_ms": statistics.median(durations) * 1000,
                              "bare_ms": statistics.median(bare_durations) * 1000,
                              "cycle_ms": statistics.median(cycle_durations) * 1000,
                              "tasks": _task_count(bare, state), "state_kb": len(state.encode()) / 1024}
            if week in (1, 2, 13, 26, 39, weeks):
                w = per_week[week]
                log(f"  week {week}: report {w['report_ms']:.1f} ms, bare {w['bare_ms']:.1f} ms, "
                    f"separate instance {w['cycle_ms']:.1f} ms, tree {w['tasks']} tasks, {w['state_kb']:.0f} KB")
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
    for label, key in (("Duban report", "report_ms"), ("bare SpiffWorkflow load+step+save", "bare_ms"),
                       ("report as its own instance (proposed fix, prototype)", "cycle_ms")):
        a, b = med(head, key), med(tail, key)
        result.row(f"{label}: week 1", round(a, 2), "ms", 1.0)
        result.row(f"{label}: week {weeks}", round(b, 2), "ms", ratio(b, a))
    result.row("task tree size", last["tasks"], "tasks", ratio(last["tasks"], first["tasks"]),
               week_1=first["tasks"])
    result.row("instance state JSON", round(last["state_kb"], 1), "KB", ratio(last["state_kb"], first["state_kb"]),
               week_1_kb=round(first["state_kb"], 1))
    value = ratio(med(tail, "report_ms"), med(head, "report_ms"))
    result.target(f"Duban report week {weeks} ≤ 1.5× week 1", f"<= {TARGET}", value, value <= TARGET)
    fix = ratio(med(tail, "cycle_ms"), med(head, "cycle_ms"))
    result.notes.append(f"proposed fix (each report cycle its own instance): week {weeks} / week 1 = {fix}")
    result.notes.append({"per_week": {w: {k: round(v, 2) for k, v in row.items()} for w, row in per_week.items()}})
    if profiles:
        RESULTS.mkdir(parents=True, exist_ok=True)
        for week, text in profiles.items():
            if text:
                path = RESULTS / f"long_running_week{week}.pyinstrument.txt"
                path.write_text(text, encoding="utf-8")
                what = ("50 bare load+step+save" if str(week).endswith("_bare_x50") else "one Duban report")
                result.notes.append(f"pyinstrument, {what} at week {str(week).split('_')[0]}: "
                                    f"{path.relative_to(RESULTS.parent.parent)}")
    return result
