"""The rectification process (问题整改) and its problem records, driven through the engine."""
import datetime as dt
import threading

import pytest
from lxml import etree
from sqlalchemy import select

from engine.actor import Actor
from engine.calendar import BusinessCalendar
from engine.errors import InvalidInput
from tests.conftest import BOTH_DATABASES, REPO, SECRETARY, STAFF, deploy_shipped
from tests.helpers import complete, open_task
from workflows.rectification import deadlines
from workflows.rectification.models import Problem, ProblemReport
from workflows.rectification.problems import create_problem, get_problem

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
PROBLEM = {"title": "食堂食品安全管理制度落实不到位", "description": "巡察发现台账缺失", "source": "inspection",
           "department": "d1", "deadline": "2026-12-31"}
PLAN = {"measures": "建立台账，专人负责", "owner": "zhang", "deadline": "2026-12-12"}
APPROVE = {"approved": True}
DONE = {"summary": "已建立台账", "evidence": "台账照片.jpg", "done": True}
CN = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def rectification(engine):
    return deploy_shipped(engine, "accountability.dmn", "rectification.bpmn")


def local(moment):
    return moment.astimezone(CN).isoformat()


@pytest.mark.parametrize("name", ["rectification.bpmn", "supervision.bpmn"])
def test_diagram_draws_every_element(name):
    """bpmn-js shows only what has diagram interchange: every node, flow, lane and the pool is
    drawn, each edge starts and ends on its nodes, and each node sits inside its lane."""
    root = etree.parse(str(REPO / "bpmn" / name)).getroot()
    bounds = {shape.get("bpmnElement"): [float(shape.find("dc:Bounds", NS).get(k))
                                         for k in ("x", "y", "width", "height")]
              for shape in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {edge.get("bpmnElement"): [(float(p.get("x")), float(p.get("y")))
                                       for p in edge.iterfind("di:waypoint", NS)]
             for edge in root.iterfind(".//bpmndi:BPMNEdge", NS)}

    def on(point, box, slack=1):
        (px, py), (x, y, w, h) = point, box
        return x - slack <= px <= x + w + slack and y - slack <= py <= y + h + slack

    process = root.find("bpmn:process", NS)
    for element in process:
        tag, element_id = etree.QName(element).localname, element.get("id")
        if tag == "sequenceFlow":
            assert on(edges[element_id][0], bounds[element.get("sourceRef")]), element_id
            assert on(edges[element_id][-1], bounds[element.get("targetRef")]), element_id
        elif tag not in ("laneSet", "documentation", "extensionElements"):
            assert element_id in bounds, element_id
    for lane in process.iterfind("bpmn:laneSet/bpmn:lane", NS):
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            x, y, w, h = bounds[ref.text]
            assert on((x + w / 2, y + h / 2), bounds[lane.get("id")], 0), (lane.get("name"), ref.text)
    assert root.find("bpmn:collaboration/bpmn:participant", NS).get("id") in bounds


def test_the_diagram_keeps_to_the_brief():
    root = etree.parse(str(REPO / "bpmn" / "rectification.bpmn")).getroot()
    process = root.find("bpmn:process", NS)
    assert (process.get("id"), process.get("name")) == ("rectification", "问题整改")
    assert [lane.get("name") for lane in process.iterfind("bpmn:laneSet/bpmn:lane", NS)] == ["督查室", "承办部门", "督查员"]
    tasks = {task.get("id"): task for task in process.iterfind("bpmn:userTask", NS)}
    assert set(tasks) == {"hand_over", "submit_rectification_plan", "review_rectification_plan",
                          "submit_rectification_report", "verify_rectification", "handle_escalation"}
    for task in tasks.values():
        names = {p.get("name") for p in task.iter("{http://spiffworkflow.org/bpmn/schema/1.0/core}property")}
        assert "formSchema" in names


def test_report_due_is_office_close_of_the_deadline_or_the_next_working_day():
    calendar = BusinessCalendar()
    assert local(deadlines.report_due(calendar, dt.date(2026, 12, 11))) == "2026-12-11T18:00:00+08:00"  # Friday
    assert local(deadlines.report_due(calendar, dt.date(2026, 12, 12))) == "2026-12-14T18:00:00+08:00"  # Saturday
    assert local(deadlines.report_due(calendar, dt.date(2026, 10, 3))) == "2026-10-08T18:00:00+08:00"  # 国庆
    saturday_worked = dt.date(2026, 10, 10)  # 调休
    assert local(deadlines.report_due(calendar, saturday_worked)) == "2026-10-10T18:00:00+08:00"


def due(engine, actor, key, problem_id):
    return local(open_task(engine, actor, key, problem_id).due_at)


@BOTH_DATABASES
def test_the_problem_follows_its_process_to_closure(rectification):
    engine = rectification
    problem = create_problem(engine, PROBLEM, SECRETARY)
    assert problem.code == "ZG-2026-0001" and problem.status == "open" and problem.source == "inspection"
    assert open_task(engine, SECRETARY, "hand_over", problem.id).due_at is None
    with pytest.raises(AssertionError):  # not the department's yet
        open_task(engine, STAFF, "submit_rectification_plan", problem.id)

    engine.clock.advance(to="2026-11-24T10:00:00+08:00")  # handed over on Tuesday
    complete(engine, SECRETARY, "hand_over", {"requirements": "一周内建立台账"}, problem.id)
    assert due(engine, STAFF, "submit_rectification_plan", problem.id) == "2026-11-26T18:00:00+08:00"
    complete(engine, STAFF, "submit_rectification_plan", PLAN, problem.id)
    complete(engine, SECRETARY, "review_rectification_plan", APPROVE, problem.id)
    assert due(engine, STAFF, "submit_rectification_report", problem.id) == "2026-12-14T18:00:00+08:00"

    complete(engine, STAFF, "submit_rectification_report", {"summary": "推进中", "done": False}, problem.id)
    assert due(engine, STAFF, "submit_rectification_report", problem.id) == "2026-12-14T18:00:00+08:00"
    complete(engine, STAFF, "submit_rectification_report", DONE, problem.id)
    complete(engine, SECRETARY, "verify_rectification",
             {"passed": False, "findings": "台账不完整", "rectify_by": "2026-12-18"}, problem.id)
    assert due(engine, STAFF, "submit_rectification_report", problem.id) == "2026-12-18T18:00:00+08:00"
    complete(engine, STAFF, "submit_rectification_report", DONE, problem.id)
    complete(engine, SECRETARY, "verify_rectification", {"passed": False, "findings": "仍不完整"}, problem.id)
    assert due(engine, STAFF, "submit_rectification_report", problem.id) == "2026-12-18T18:00:00+08:00"
    complete(engine, STAFF, "submit_rectification_report", DONE, problem.id)
    engine.clock.advance(to="2026-12-01T10:00:00+08:00")
    complete(engine, SECRETARY, "verify_rectification", {"passed": True, "findings": "整改到位"}, problem.id)

    problem = get_problem(engine, problem.id)
    assert problem.status == "closed" and local(problem.closed_at) == "2026-12-01T10:00:00+08:00"
    assert problem.requirements == "一周内建立台账" and local(problem.handed_over_at) == "2026-11-24T10:00:00+08:00"
    assert (problem.plan_owner, problem.plan_deadline) == ("zhang", dt.date(2026, 12, 12))
    with engine.db.read() as session:
        reports = list(session.scalars(select(ProblemReport).where(ProblemReport.problem_id == problem.id)
                                       .order_by(ProblemReport.id)))
    assert [(r.done, r.passed, r.findings) for r in reports] == [
        (False, None, None), (True, False, "台账不完整"), (True, False, "仍不完整"), (True, True, "整改到位")]
    assert engine.instances.get(problem.instance_id).status == "completed"


def test_forms_refuse_bad_data_and_other_departments(rectification):
    engine = rectification
    problem = create_problem(engine, PROBLEM, SECRETARY)
    complete(engine, SECRETARY, "hand_over", {}, problem.id)
    task = open_task(engine, STAFF, "submit_rectification_plan", problem.id)
    with pytest.raises(InvalidInput) as err:
        engine.tasks.complete(task.id, {**PLAN, "deadline": "12/12/2026"}, STAFF)
    assert [d["field"] for d in err.value.details] == ["deadline"]
    other = Actor("wang", frozenset({"staff"}), "d2")
    with pytest.raises(Exception) as refused:
        engine.tasks.complete(task.id, PLAN, other)
    assert refused.value.status == 403
    engine.tasks.complete(task.id, PLAN, STAFF)
    complete(engine, SECRETARY, "review_rectification_plan", APPROVE, problem.id)
    report = open_task(engine, STAFF, "submit_rectification_report", problem.id)
    with pytest.raises(InvalidInput) as err:  # done needs evidence
        engine.tasks.complete(report.id, {"summary": "完成", "done": True}, STAFF)
    assert [d["field"] for d in err.value.details] == ["evidence"]


def test_cancelling_the_process_cancels_the_problem(rectification):
    engine = rectification
    problem = create_problem(engine, PROBLEM, SECRETARY)
    engine.instances.cancel(problem.instance_id, "重复登记", SECRETARY)
    problem = get_problem(engine, problem.id)
    assert problem.status == "cancelled" and problem.closed_at is not None


def test_registration_checks_its_fields(rectification):
    with pytest.raises(InvalidInput) as err:
        create_problem(rectification, {"title": " ", "source": "rumour", "department": "d1",
                                       "deadline": "2026-13-01", "extra": 1}, SECRETARY)
    assert sorted(d["field"] for d in err.value.details) == ["deadline", "extra", "source", "title"]
    with rectification.db.read() as session:
        assert session.scalars(select(Problem)).all() == []


@BOTH_DATABASES
def test_problems_registered_at_once_get_distinct_codes(rectification):
    barrier = threading.Barrier(6)
    codes, failures = [], []

    def register(n):
        barrier.wait()
        try:
            codes.append(create_problem(rectification, {**PROBLEM, "title": f"并发登记 {n}"}, SECRETARY).code)
        except Exception as err:  # noqa: BLE001 — any failure is the finding
            failures.append(repr(err))
    threads = [threading.Thread(target=register, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(codes) == [f"ZG-2026-{n:04d}" for n in range(1, 7)]


def test_instances_of_the_version_before_review_run_on(engine):
    """A problem started on the diagram without review or deadlines (tests/data/rectification_v1.bpmn,
    its plan's date named ``deadline``) keeps its version after the new one is deployed."""
    deploy_shipped(engine, "accountability.dmn")
    engine.deploy((REPO / "tests" / "data" / "rectification_v1.bpmn").read_bytes(), actor="designer")
    old = create_problem(engine, PROBLEM, SECRETARY)
    deploy_shipped(engine, "rectification.bpmn")
    new = create_problem(engine, PROBLEM, SECRETARY)
    for problem in (old, new):
        complete(engine, SECRETARY, "hand_over", {}, problem.id)
    complete(engine, STAFF, "submit_rectification_plan",
             {"measures": "建立台账", "owner": "zhang", "deadline": "2026-12-12"}, old.id)
    assert due(engine, STAFF, "submit_rectification_report", old.id) == "2026-12-14T18:00:00+08:00"
    old = get_problem(engine, old.id)
    assert (old.plan_deadline, old.plan_state, old.plan_needs_extension) == (dt.date(2026, 12, 12), None, False)
    complete(engine, STAFF, "submit_rectification_plan", PLAN, new.id)
    assert open_task(engine, SECRETARY, "review_rectification_plan", new.id)
    assert get_problem(engine, new.id).plan_state == "submitted"
