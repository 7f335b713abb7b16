"""Bounded commands (issue 19): a command that never reaches a wait state ends within its
budget (``[engine] max_steps_per_command``, ``max_seconds_per_command``, engine.budget) as an
instance in error with the reason, and shows on 运行监控; what deploy can see (a call
activity calling its own process before anything waits) is refused there."""
import threading

import pytest
from sqlalchemy import select

from engine.budget import MAX_NESTING, REASON_PREFIX
from engine.errors import InvalidDefinition
from engine.models import AuditRecord, Definition, HumanTask
from tests.bpmn_snippets import process
from tests.conftest import BOTH_DATABASES, SECRETARY
from tests.test_web_pages import Web

SMALL = {"engine": {"max_steps_per_command": 200}}
STEP_LIMIT = f"BudgetExceeded: {REASON_PREFIX} 200 steps / 30 s: the step limit"


def counting_loop(key, until="n &gt;= limit", ask=False, work="n = n + 1"):
    """start -> [ask: a user task] -> init (n = 0) -> gw -> inc (``work``) -> gw ... -> end
    once ``until`` holds (``n < 0``: never)."""
    first = "ask" if ask else "init"
    return process(key, f"""<bpmn:startEvent id="start"/>
{'<bpmn:userTask id="ask" name="Ask"/><bpmn:sequenceFlow id="f_ask" sourceRef="ask" targetRef="init"/>' if ask else ''}
<bpmn:scriptTask id="init"><bpmn:script>n = 0</bpmn:script></bpmn:scriptTask>
<bpmn:exclusiveGateway id="gw" default="again"/>
<bpmn:scriptTask id="inc"><bpmn:script>{work}</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="{first}"/>
<bpmn:sequenceFlow id="f1" sourceRef="init" targetRef="gw"/>
<bpmn:sequenceFlow id="again" sourceRef="gw" targetRef="inc"/>
<bpmn:sequenceFlow id="out" sourceRef="gw" targetRef="end"><bpmn:conditionExpression>{until}</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="back" sourceRef="inc" targetRef="gw"/>""")


def calling(key, called, call_id="call", guard=None, before=""):
    """Process ``key``: start -> [before: a user task] -> [guard: a condition] -> call
    ``called`` -> end (ids prefixed with ``key``, so several fit in one document)."""
    start, end, nodes, flows, source = f"{key}_start", f"{key}_end", [], [], f"{key}_start"
    if before:
        nodes.append(f'<bpmn:userTask id="{before}" name="Wait"/>')
        flows.append((source, before, ""))
        source = before
    if guard:
        nodes.append(f'<bpmn:exclusiveGateway id="{key}_guard" default="{key}_skip"/>')
        flows.append((source, f"{key}_guard", ""))
        flows.append((f"{key}_guard", call_id, f"<bpmn:conditionExpression>{guard}</bpmn:conditionExpression>"))
        flows.append((f"{key}_guard", end, "", f"{key}_skip"))
    else:
        flows.append((source, call_id, ""))
    flows.append((call_id, end, ""))
    xml_flows = "".join(
        f'<bpmn:sequenceFlow id="{flow[3] if len(flow) > 3 else f"{key}_f{i}"}" sourceRef="{flow[0]}" '
        f'targetRef="{flow[1]}">{flow[2]}</bpmn:sequenceFlow>' for i, flow in enumerate(flows))
    return (f'<bpmn:process id="{key}" isExecutable="true"><bpmn:startEvent id="{start}"/>'
            + "".join(nodes) + f'<bpmn:callActivity id="{call_id}" calledElement="{called}"/>'
            f'<bpmn:endEvent id="{end}"/>' + xml_flows + "</bpmn:process>")


def document(*processes):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" '
            'targetNamespace="http://duban.test">' + "".join(processes) + "</bpmn:definitions>").encode()


def definitions(engine):
    with engine.db.read() as session:
        return session.scalars(select(Definition.key)).all()


def audit_kinds(engine, instance_id):
    with engine.db.read() as session:
        return session.scalars(select(AuditRecord.kind).where(AuditRecord.instance_id == instance_id)
                               .order_by(AuditRecord.seq)).all()


# -- deploy ---------------------------------------------------------------------------------------
@BOTH_DATABASES
def test_a_call_activity_recursing_before_anything_waits_is_refused_at_deploy(engine):
    with pytest.raises(InvalidDefinition) as refused:  # Level3 -> Level3, as SpiffWorkflow's test model
        engine.deploy(document(calling("Level3", "Level3", call_id="call_level_3")))
    assert refused.value.details["code"] == "recursive_call"
    assert refused.value.details["element"] == "call_level_3"
    assert "calls its own process 'Level3'" in refused.value.message

    with pytest.raises(InvalidDefinition) as refused:  # through a chain of processes in the file
        engine.deploy(document(calling("A", "B", call_id="a_calls_b"), calling("B", "A", call_id="b_calls_a")))
    assert (refused.value.details["code"], refused.value.details["element"]) == ("recursive_call", "a_calls_b")
    assert "A -> B -> A" in refused.value.message

    with pytest.raises(InvalidDefinition) as refused:  # from inside an embedded subprocess
        engine.deploy(process("inner", """<bpmn:startEvent id="start"/>
<bpmn:subProcess id="sub"><bpmn:startEvent id="sub_start"/>
  <bpmn:callActivity id="deep_call" calledElement="inner"/><bpmn:endEvent id="sub_end"/>
  <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="deep_call"/>
  <bpmn:sequenceFlow id="s2" sourceRef="deep_call" targetRef="sub_end"/></bpmn:subProcess>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub"/>
<bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end"/>"""))
    assert (refused.value.details["code"], refused.value.details["element"]) == ("recursive_call", "deep_call")
    assert definitions(engine) == []

    # A wait or a condition on the way may bound it: deployed, and the budget bounds the rest.
    engine.deploy(document(calling("waits", "waits", before="review")))
    engine.deploy(document(calling("guarded", "guarded", guard="depth &lt; 3")))
    assert sorted(definitions(engine)) == ["guarded", "waits"]


@BOTH_DATABASES
def test_recursion_a_condition_never_stops_ends_at_the_nesting_limit(engine):
    engine.deploy(document(calling("again", "again", guard="go")))
    instance = engine.instances.start("again", {"go": True}, SECRETARY)
    assert instance.status == "error"
    assert instance.error.startswith(f"BudgetExceeded: {REASON_PREFIX} 10000 steps / 30 s: call "
                                     f"activities or subprocesses are nested {MAX_NESTING + 1} deep")
    assert engine.instances.cancel(instance.id, "递归", SECRETARY).status == "cancelled"


# -- run time ---------------------------------------------------------------------------------------
@BOTH_DATABASES
def test_a_gateway_script_cycle_started_ends_as_an_instance_error(engine_factory):
    engine = engine_factory(**SMALL)
    engine.deploy(counting_loop("spin", until="n &lt; 0"))
    instance = engine.instances.start("spin", {}, SECRETARY)
    assert instance.status == "error"
    assert instance.error.startswith(STEP_LIMIT)
    assert instance.error_task == "inc"  # the task it stopped before, never run
    # Saved: the workflow after the last whole step (start, init, then gw and inc 99 times each).
    assert engine.instances.get(instance.id).variables == {"n": 98}
    assert audit_kinds(engine, instance.id) == ["instance_started", "instance_error"]
    assert engine.instances.cancel(instance.id, "死循环", SECRETARY).status == "cancelled"


@BOTH_DATABASES
def test_a_cycle_reached_by_completing_a_user_task_ends_as_an_instance_error(engine_factory):
    engine = engine_factory(**SMALL)
    engine.deploy(counting_loop("spin_later", until="n &lt; 0", ask=True))
    instance = engine.instances.start("spin_later", {}, SECRETARY)
    assert instance.status == "running"
    [task], _ = engine.tasks.inbox(SECRETARY, instance_id=instance.id)
    engine.tasks.complete(task.id, {"answer": "go"}, SECRETARY)
    after = engine.instances.get(instance.id)
    assert after.status == "error" and after.error.startswith(STEP_LIMIT)
    assert after.variables["answer"] == "go"  # the person's step stays done
    with engine.db.read() as session:
        assert session.get(HumanTask, task.id).state == "completed"


@BOTH_DATABASES
def test_a_loop_under_the_budget_completes_and_a_retry_runs_on_with_a_fresh_budget(engine_factory):
    engine = engine_factory(**SMALL)
    engine.deploy(counting_loop("count"))
    assert engine.instances.start("count", {"limit": 90}, SECRETARY).status == "completed"  # ~185 steps
    stopped = engine.instances.start("count", {"limit": 150}, SECRETARY)
    assert stopped.status == "error" and stopped.error.startswith(STEP_LIMIT)

    retried = engine.instances.retry(stopped.id, SECRETARY)  # on from step 200: 100 more steps
    assert retried.status == "completed"
    assert engine.instances.get(stopped.id).variables == {"limit": 150, "n": 150}


@BOTH_DATABASES
def test_the_time_limit_stops_a_command_between_steps(engine_factory):
    engine = engine_factory(engine={"max_seconds_per_command": 0.000001})
    engine.deploy(counting_loop("slow", until="n &lt; 0"))
    instance = engine.instances.start("slow", {}, SECRETARY)
    assert instance.status == "error"
    assert f"{REASON_PREFIX} 10000 steps / 1e-06 s: the time limit" in instance.error


def test_with_the_default_budget_a_cycle_errs_before_spiffworkflow_would_call_it_completed(engine_factory):
    # SpiffWorkflow stops looking 1000 tasks deep: without the budget this "completed". (One
    # database: this is about SpiffWorkflow's loop; the others store such errors on both.)
    # The scripts' own limit is the default's, not the suite's 1 s: a thousand-task tree's
    # garbage collection on a loaded machine once stopped one `n = n + 1` past 1 s.
    engine = engine_factory(scripts={"timeout_seconds": 2.0})
    engine.deploy(counting_loop("deep", until="n &lt; 0"))
    instance = engine.instances.start("deep", {}, SECRETARY)
    assert instance.status == "error"
    assert "a chain of 990 tasks ran without waiting" in instance.error
    assert engine.instances.retry(instance.id, SECRETARY).status == "error"  # no deeper: still stopped
    assert engine.instances.cancel(instance.id, "死循环", SECRETARY).status == "cancelled"


def test_bad_budget_settings_are_refused_at_start(engine_factory):
    for bad in ({"max_steps_per_command": 0}, {"max_steps_per_command": 1.5},
                {"max_seconds_per_command": "30"}, {"max_seconds_per_command": -1}):
        with pytest.raises(ValueError, match=r"\[engine\] max_"):
            engine_factory(engine=bad)


# -- what people see --------------------------------------------------------------------------------
@BOTH_DATABASES
def test_the_stopped_instance_is_an_incident_on_the_monitor_page_in_chinese(server_factory):
    server = server_factory(**SMALL)
    server.engine.deploy(counting_loop("spin", until="n &lt; 0"))
    instance = server.engine.instances.start("spin", {}, SECRETARY)
    page = Web(server.app, "admin").get("/admin/monitor").text
    row = page[page.index(f'data-instance="{instance.id}"'):]
    row = row[:row.index("</tr>")]
    assert "流程运行未到达等待环节：一次操作最多运行 200 步、30 秒，已被停止。" in row
    assert ">inc<" in row  # 出错环节


def test_over_http_a_cycle_ends_in_error_while_the_server_answers_others(server_factory):
    # Each step burns CPU (a sum over a million numbers): the time limit is what stops it.
    server = server_factory(engine={"max_seconds_per_command": 2})
    designer, secretary, other = server.login("ada"), server.login("sec"), server.login("zhang")
    deployed = designer.post("/api/v1/definitions", headers={"Content-Type": "application/xml"},
                             data=counting_loop("burn", until="n &lt; 0", work="n = n + 1 + 0 * sum(range(1000000))"))
    assert deployed.status_code == 201, deployed.text

    running, answered, outcome = threading.Event(), [], []

    def start():
        try:
            outcome.append(secretary.post("/api/v1/instances", {"definition": "burn", "variables": {}}))
        finally:
            running.clear()

    def others():
        while running.is_set():
            for client, path in ((server.anonymous(), "/healthz"), (other, "/api/v1/me")):
                answered.append((path, client.get(path).status_code, running.is_set()))

    running.set()
    threads = [threading.Thread(target=start), threading.Thread(target=others)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    [response] = outcome
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {"id", "definition", "version", "status"} and body["status"] == "error"
    instance = secretary.get(f"/api/v1/instances/{body['id']}").json()
    assert instance["status"] == "error"
    assert instance["error"].startswith(f"BudgetExceeded: {REASON_PREFIX} 10000 steps / 2 s: the time limit")
    assert all(status == 200 for _, status, _ in answered), answered
    assert {path for path, status, during in answered if during} == {"/healthz", "/api/v1/me"}
