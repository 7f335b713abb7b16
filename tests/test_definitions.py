"""Deploying: validation with the element named, versions per key, the spec stored once."""
import json

import pytest
from sqlalchemy import func, select

from engine.errors import InvalidDefinition
from engine.models import Definition, Instance
from tests.bpmn_snippets import HEAD, chain, process, script, user_task
from tests.conftest import BOTH_DATABASES, REPO, SECRETARY
from tests.helpers import snapshot


def _definition_count(engine):
    with engine.db.read() as session:
        return session.scalar(select(func.count()).select_from(Definition))


BAD_DOCUMENTS = {
    "malformed XML": (b"<bpmn:definitions><bpmn:process id='x'>", None, "malformed XML"),
    "not BPMN": (b"<html><body>hi</body></html>", None, "not a BPMN or DMN document"),
    "dangling flow target": (process("p", '<bpmn:startEvent id="start"/>'
                                     '<bpmn:endEvent id="end"/>'
                                     '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ghost"/>'),
                             "f1", "targetRef 'ghost'"),
    "dangling node": (process("p", '<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>'
                              '<bpmn:endEvent id="end"/>'
                              '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>'),
                      "review", "no outgoing sequence flow"),
    "unreachable node": (process("p", '<bpmn:startEvent id="start"/><bpmn:userTask id="orphan"/>'
                                 '<bpmn:endEvent id="end"/>'
                                 '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end"/>'
                                 '<bpmn:sequenceFlow id="f2" sourceRef="orphan" targetRef="end"/>'),
                         "orphan", "no incoming sequence flow"),
    "schema violation": (process("p", '<bpmn:startEvent id="start"><bpmn:bogus/></bpmn:startEvent>'),
                         None, "bogus"),
    "bad condition": (chain("p", '<bpmn:exclusiveGateway id="n1"/>').replace(
        b'<bpmn:sequenceFlow id="f1" sourceRef="n1" targetRef="end"/>',
        b'<bpmn:sequenceFlow id="f1" sourceRef="n1" targetRef="end"><bpmn:conditionExpression>'
        b'approved ==</bpmn:conditionExpression></bpmn:sequenceFlow>'), "f1", "sandbox"),
    "bad form schema": (chain("p", user_task(1, properties='<spiffworkflow:property name="formSchema" '
                                                 'value="{&quot;type&quot;: 5}"/>')), "n1", "formSchema"),
}


@BOTH_DATABASES
@pytest.mark.parametrize("name", BAD_DOCUMENTS)
def test_bad_definition_is_rejected_and_nothing_deployed(engine, name):
    source, element, message = BAD_DOCUMENTS[name]
    before = snapshot(engine), _definition_count(engine)
    with pytest.raises(InvalidDefinition) as caught:
        engine.deploy(source, actor="ada")
    assert message in caught.value.message
    if element:
        assert caught.value.details["element"] == element
        assert caught.value.details["line"]
    assert (snapshot(engine), _definition_count(engine)) == before


def test_malformed_xml_names_the_line(engine):
    with pytest.raises(InvalidDefinition) as caught:
        engine.deploy(HEAD.encode() + b'<bpmn:process id="p">\n<bpmn:startEvent id="s">\n</bpmn:process>')
    assert caught.value.details["line"] == 5  # where </bpmn:process> closes the open startEvent
    assert "line 5" in caught.value.message


def test_xml_entities_are_not_expanded(engine):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>')
    with pytest.raises(InvalidDefinition):
        engine.deploy(bomb)


@BOTH_DATABASES
def test_versions_per_key_and_identical_bytes(engine):
    first = chain("p", user_task(1))
    second = chain("p", user_task(1, name="Renamed"))
    v1, created1 = engine.deploy(first)
    again, created_again = engine.deploy(first)
    v2, created2 = engine.deploy(second)
    other, _ = engine.deploy(chain("q", user_task(1)))
    assert (v1.version, created1) == (1, True)
    assert (again.id, created_again) == (v1.id, False)
    assert (v2.version, created2) == (2, True)
    assert other.version == 1
    with engine.db.read() as session:
        assert engine.definitions.get(session, "p").version == 2
        assert engine.definitions.get(session, "p", 1).id == v1.id


@BOTH_DATABASES
def test_running_instances_stay_on_their_version(engine):
    engine.deploy(chain("p", user_task(1, name="Old")))
    old = engine.instances.start("p", {}, SECRETARY)
    engine.deploy(chain("p", user_task(1, name="New")))
    new = engine.instances.start("p", {}, SECRETARY)
    titles = {row.instance_id: row.title for row in engine.tasks.inbox(SECRETARY)[0]}
    assert (old.definition_version, new.definition_version) == (1, 2)
    assert titles == {old.id: "Old", new.id: "New"}


def test_spec_is_stored_once_not_in_each_instance(supervision):
    from tests.helpers import new_item

    item = new_item(supervision, SECRETARY)
    with supervision.db.read() as session:
        state = json.loads(session.get(Instance, item.instance_id).state)
        source = supervision.definitions.get(session, "supervision").source
    assert "spec" not in state and state["spec_name"] == "supervision"
    assert len(json.dumps(state)) < len(source) / 2


@pytest.mark.parametrize("name", ["supervision.bpmn", "plan_change.bpmn", "extension.bpmn", "lookback.bpmn"])
def test_shipped_diagrams_have_diagram_interchange(name):
    """Every node and flow is drawn (bpmn-js shows nothing it has no shape for), boundary
    events sit on their activity's border, and edges start and end on their nodes."""
    from lxml import etree

    root = etree.parse(str(REPO / "bpmn" / name)).getroot()
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
          "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
          "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
    elements = {e.get("id"): e for e in root.iterfind(".//bpmn:process/*", ns)
                if etree.QName(e).localname not in ("laneSet",)}
    bounds = {s.get("bpmnElement"): [float(s.find("dc:Bounds", ns).get(k)) for k in ("x", "y", "width", "height")]
              for s in root.iterfind(".//bpmndi:BPMNShape", ns)}
    edges = {e.get("bpmnElement"): [(float(p.get("x")), float(p.get("y"))) for p in e.iterfind("di:waypoint", ns)]
             for e in root.iterfind(".//bpmndi:BPMNEdge", ns)}
    assert set(elements) <= set(bounds) | set(edges)

    def on(point, box, slack=1):
        (px, py), (x, y, w, h) = point, box
        return x - slack <= px <= x + w + slack and y - slack <= py <= y + h + slack

    for element_id, element in elements.items():
        if etree.QName(element).localname == "boundaryEvent":
            x, y, w, h = bounds[element_id]
            hx, hy, hw, hh = bounds[element.get("attachedToRef")]
            centre = (x + w / 2, y + h / 2)
            assert on(centre, (hx, hy, hw, hh)) and not on(centre, (hx + 1, hy + 1, hw - 2, hh - 2), 0), element_id
        if etree.QName(element).localname == "sequenceFlow":
            points = edges[element_id]
            assert on(points[0], bounds[element.get("sourceRef")]), element_id
            assert on(points[-1], bounds[element.get("targetRef")]), element_id
    for lane in root.iterfind(".//bpmn:lane", ns):  # each node is drawn inside its lane
        for ref in lane.iterfind("bpmn:flowNodeRef", ns):
            x, y, w, h = bounds[ref.text]
            assert on((x + w / 2, y + h / 2), bounds[lane.get("id")], 0), (lane.get("name"), ref.text)
    if name == "supervision.bpmn":
        lanes = {lane.get("name") for lane in root.iterfind(".//bpmn:lane", ns)}
        assert lanes == {"秘书科", "承办部门", "分管领导", "督查员"}


def test_script_in_supervision_refers_only_to_known_functions(supervision):
    """The diagram's functions exist in the engine (a typo would only show at run time)."""
    functions = supervision.script_functions()
    assert {"now", "working_day_end", "report_due"} <= set(functions)
    assert script(1, "x = 1")  # helper sanity
