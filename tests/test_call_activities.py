"""Call activities across deployed definitions (latest or pinned) and deploy bundles."""
import pytest
from sqlalchemy import func, select

from engine.errors import Conflict, InvalidDefinition
from engine.models import Definition
from tests.bpmn_snippets import chain, script, user_task
from tests.conftest import BOTH_DATABASES, SECRETARY


def call(n, process, version=None):
    pin = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property '
           f'name="calledElementVersion" value="{version}"/></spiffworkflow:properties>'
           '</bpmn:extensionElements>') if version else ""
    return f'<bpmn:callActivity id="n{n}" calledElement="{process}">{pin}</bpmn:callActivity>'


def called(marker):
    """Process ``inner``: records which version ran, then waits for a person (``inner_task``)."""
    source = chain("inner", script(1, f"ran = {marker!r}"), user_task(2, "子流程办理"))
    return source.replace(b'"n2"', b'"inner_task"')


CALLER = chain("outer", call(1, "inner"), user_task(2, "父流程收尾"))
PINNED = chain("pinned", call(1, "inner", version=1), user_task(2, "父流程收尾"))


def _count(engine):
    with engine.db.read() as session:
        return session.scalar(select(func.count()).select_from(Definition))


def _open(engine, instance_id):
    rows, _ = engine.tasks.inbox(SECRETARY, instance_id=instance_id)
    return rows


def _run_through(engine, key):
    """Start ``key``, complete the task inside the called process, then the caller's own;
    returns the instance and what the called process recorded."""
    instance = engine.instances.start(key, {}, SECRETARY)
    [inner] = _open(engine, instance.id)
    assert inner.key == "inner_task"
    engine.tasks.complete(inner.id, {"note": "子流程已办"}, SECRETARY)
    [after] = _open(engine, instance.id)
    assert after.key == "n2"
    engine.tasks.complete(after.id, {}, SECRETARY)
    done = engine.instances.get(instance.id)
    assert done.status == "completed"
    assert done.variables["note"] == "子流程已办"  # the called process's data came back
    return done, done.variables["ran"]


@BOTH_DATABASES
def test_bundle_deploys_a_caller_with_its_called_process_and_runs(engine):
    results = engine.definitions.deploy_bundle([("outer.bpmn", CALLER), ("inner.bpmn", called("v1"))])
    assert [(d.key, d.version, created) for d, created in results] == [("outer", 1, True), ("inner", 1, True)]
    assert _run_through(engine, "outer")[1] == "v1"


@BOTH_DATABASES
def test_called_process_deployed_first_then_latest_applies_to_later_starts(engine):
    engine.deploy(called("v1"))
    engine.deploy(CALLER)
    running = engine.instances.start("outer", {}, SECRETARY)  # bound to inner v1 at its start
    engine.deploy(called("v2"))
    assert _run_through(engine, "outer")[1] == "v2"
    for task in _open(engine, running.id):  # the running one keeps the version it started with
        engine.tasks.complete(task.id, {}, SECRETARY)
    [after] = _open(engine, running.id)
    engine.tasks.complete(after.id, {}, SECRETARY)
    assert engine.instances.get(running.id).variables["ran"] == "v1"


@BOTH_DATABASES
def test_a_pin_holds_its_version(engine):
    engine.deploy(called("v1"))
    engine.deploy(called("v2"))
    engine.deploy(PINNED)
    assert _run_through(engine, "pinned")[1] == "v1"


def test_nested_calls_across_three_definitions(engine):
    level3 = chain("level3", script(1, "depth = 3"), user_task(2, "第三层"))
    level2 = chain("level2", call(1, "level3"))
    level1 = chain("level1", call(1, "level2"), user_task(2, "收尾"))
    engine.definitions.deploy_bundle([("l1.bpmn", level1), ("l2.bpmn", level2), ("l3.bpmn", level3)])
    instance = engine.instances.start("level1", {}, SECRETARY)
    [deepest] = _open(engine, instance.id)
    assert deepest.key == "n2" and deepest.title == "第三层"
    engine.tasks.complete(deepest.id, {}, SECRETARY)
    [after] = _open(engine, instance.id)
    assert after.title == "收尾"
    engine.tasks.complete(after.id, {}, SECRETARY)
    assert engine.instances.get(instance.id).variables["depth"] == 3


@BOTH_DATABASES
def test_a_bundle_with_one_bad_file_deploys_nothing_and_names_the_file(engine):
    bad = chain("broken", script(1, "x = ("))
    before = _count(engine)
    with pytest.raises(InvalidDefinition) as refused:
        engine.definitions.deploy_bundle([("inner.bpmn", called("v1")), ("broken.bpmn", bad),
                                          ("outer.bpmn", CALLER)])
    assert refused.value.message.startswith("broken.bpmn: ")
    assert refused.value.details["file"] == "broken.bpmn"
    assert _count(engine) == before


@pytest.mark.parametrize("caller, message", [
    (chain("lonely", call(1, "nowhere")), "call activity 'n1' calls process 'nowhere'"),
    (chain("lonely", call(1, "inner", version=7)), "version 7 of process 'inner' is not deployed"),
    (chain("lonely", call(1, "inner", version="latest")), "calledElementVersion must be a version number"),
])
def test_a_call_to_a_process_that_does_not_exist_is_refused(engine, caller, message):
    engine.deploy(called("v1"))
    before = _count(engine)
    with pytest.raises(InvalidDefinition) as refused:
        engine.deploy(caller)
    assert message in refused.value.message
    assert refused.value.details["element"] == "n1"
    assert _count(engine) == before


def test_a_bundle_may_call_a_decision_of_another_file(engine):
    dmn = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
           b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" '
           b'namespace="http://duban.test"><decision id="grade" name="grade">'
           b'<decisionTable id="t"><input id="i" label="score"><inputExpression id="ie" typeRef="integer">'
           b'<text>score</text></inputExpression></input><output id="o" name="level" typeRef="string"/>'
           b'<rule id="r1"><inputEntry id="e1"><text>&gt;= 60</text></inputEntry>'
           b'<outputEntry id="x1"><text>"pass"</text></outputEntry></rule>'
           b'<rule id="r2"><inputEntry id="e2"><text>&lt; 60</text></inputEntry>'
           b'<outputEntry id="x2"><text>"fail"</text></outputEntry></rule>'
           b'</decisionTable></decision></definitions>')
    rule = ('<bpmn:businessRuleTask id="n1"><bpmn:extensionElements><spiffworkflow:calledDecisionId>'
            'grade</spiffworkflow:calledDecisionId></bpmn:extensionElements></bpmn:businessRuleTask>')
    process = chain("graded", rule, user_task(2, "看结果"))
    results = engine.definitions.deploy_bundle([("graded.bpmn", process), ("grade.dmn", dmn)])
    assert [d.kind for d, _ in results] == ["bpmn", "dmn"]
    instance = engine.instances.start("graded", {"score": 75}, SECRETARY)
    assert engine.instances.get(instance.id).variables["level"] == "pass"


def test_bundle_over_http(server):
    designer, sec = server.login("ada"), server.login("sec")
    total = designer.get("/api/v1/definitions").json()["total"]

    broken = chain("broken", script(1, "x = ("))
    refused = designer.post("/api/v1/definitions", files=[
        ("file", ("inner.bpmn", called("v1"), "application/xml")),
        ("file", ("broken.bpmn", broken, "application/xml"))])
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_definition" and error["message"].startswith("broken.bpmn: ")
    assert error["details"]["file"] == "broken.bpmn"
    assert designer.get("/api/v1/definitions").json()["total"] == total  # nothing deployed

    deployed = designer.post("/api/v1/definitions", files=[
        ("file", ("outer.bpmn", CALLER, "application/xml")),
        ("file", ("inner.bpmn", called("v1"), "application/xml"))])
    assert deployed.status_code == 201, deployed.text
    body = deployed.json()
    assert body["total"] == 2 and "key" not in body
    assert [(i["file"], i["key"], i["version"], i["created"]) for i in body["definitions"]] == [
        ("outer.bpmn", "outer", 1, "true"), ("inner.bpmn", "inner", 1, "true")]
    one = designer.post("/api/v1/definitions", files=[("file", ("inner.bpmn", called("v2"), "application/xml"))])
    assert one.status_code == 201 and (one.json()["key"], one.json()["version"]) == ("inner", 2)

    started = sec.post("/api/v1/instances", {"definition": "outer", "variables": {}})
    assert started.status_code == 201, started.text
    instance = sec.get(f"/api/v1/instances/{started.json()['id']}").json()
    [inner] = instance["open_tasks"]
    assert inner["key"] == "inner_task"
    completed = sec.post(f"/api/v1/tasks/{inner['id']}/complete", {"data": {}})
    assert completed.status_code == 200, completed.text
    assert [t["key"] for t in completed.json()["next_tasks"]] == ["n2"]
    assert sec.get(f"/api/v1/instances/{started.json()['id']}").json()["variables"]["ran"] == "v2"


@BOTH_DATABASES
def test_moving_an_instance_keeps_its_bound_called_version(engine):
    outer = chain("outer", user_task(1, "受理"), call(2, "inner"))
    engine.definitions.deploy_bundle([("outer.bpmn", outer), ("inner.bpmn", called("v1"))])
    instance = engine.instances.start("outer", {}, SECRETARY)  # inner v1 bound, not reached yet
    engine.deploy(called("v2"))
    engine.deploy(chain("outer", user_task(1, "受理"), call(2, "inner"), user_task(3, "新增复核")))
    assert engine.migrations.check(instance.id, 2).can_move
    assert engine.migrations.migrate(instance.id, 2, SECRETARY).definition_version == 2
    for key in ("n1", "inner_task", "n3"):
        [task] = _open(engine, instance.id)
        assert task.key == key
        engine.tasks.complete(task.id, {}, SECRETARY)
    done = engine.instances.get(instance.id)
    assert done.status == "completed" and done.variables["ran"] == "v1"


def embedded(n, inner_id):
    return (f'<bpmn:subProcess id="n{n}"><bpmn:startEvent id="{inner_id}_s"/>'
            f'<bpmn:userTask id="{inner_id}_t"/><bpmn:endEvent id="{inner_id}_e"/>'
            f'<bpmn:sequenceFlow id="{inner_id}_f1" sourceRef="{inner_id}_s" targetRef="{inner_id}_t"/>'
            f'<bpmn:sequenceFlow id="{inner_id}_f2" sourceRef="{inner_id}_t" targetRef="{inner_id}_e"/>'
            '</bpmn:subProcess>')


def test_a_call_tree_whose_files_share_a_subprocess_id_is_refused(engine):
    engine.deploy(chain("inner", embedded(1, "a")))
    before = _count(engine)
    with pytest.raises(InvalidDefinition) as refused:
        engine.deploy(chain("outer", embedded(1, "b"), call(2, "inner")))
    assert refused.value.reason == "called_process_clash" and "'n1'" in refused.value.message
    assert _count(engine) == before
    engine.deploy(chain("outer", embedded(1, "b"), call(2, "inner")).replace(b'"n1"', b'"n1b"'))  # distinct: fine


def test_a_clash_that_a_later_deploy_brings_refuses_the_start_and_writes_nothing(engine):
    engine.deploy(called("v1"))
    engine.deploy(chain("outer", embedded(1, "b"), call(2, "inner")))
    engine.deploy(chain("inner", embedded(1, "a")))  # inner v2 uses the caller's subprocess id
    with pytest.raises(Conflict) as refused:
        engine.instances.start("outer", {}, SECRETARY)
    assert refused.value.reason == "called_process_clash"
    assert engine.instances.list(definition="outer")[1] == 0
