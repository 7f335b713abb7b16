"""engine.definition_diff: the elements added, removed and changed between two versions, and the
designer's comparison page that colours and lists them (the line diff: test_web_pages.py)."""
import pytest

from engine.definition_diff import diff
from engine.errors import InvalidDefinition
from tests.conftest import REPO
from tests.test_web_pages import Web

SOURCE = (REPO / "bpmn" / "supervision.bpmn").read_text()
LANES = """<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
<bpmn:process id="p"><bpmn:laneSet id="ls"><bpmn:lane id="lane_1" name="秘书科">{refs}</bpmn:lane></bpmn:laneSet>
</bpmn:process></bpmn:definitions>"""
REMOVE_FILE_PLAN_FLOW = ('<bpmn:sequenceFlow id="flow_to_report_merge" sourceRef="file_plan" targetRef="report_merge"/>', '')


def by_id(result):
    return {change.element: change for change in result.changes}


def test_identical_sources_have_no_changes():
    result = diff(SOURCE, SOURCE.encode())
    assert result.changes == [] and result.layout_changed is False


def test_a_renamed_task_and_a_changed_property_are_changes_with_their_aspects():
    changed = (SOURCE.replace('name="备案"', 'name="登记备案"')
               .replace('<spiffworkflow:property name="dueDate" value="plan_due"/>',
                        '<spiffworkflow:property name="dueDate" value="plan_due_at"/>'))
    result = by_id(diff(SOURCE, changed))
    assert set(result) == {"file_plan", "draft_plan"}
    assert result["file_plan"].kind == "changed" and result["file_plan"].name == "登记备案"
    assert result["file_plan"].aspects == [("@name", "备案", "登记备案")]
    assert result["draft_plan"].aspects == [("property:dueDate", "plan_due", "plan_due_at")]


def test_added_removed_and_nested_content():
    new = (SOURCE.replace(*REMOVE_FILE_PLAN_FLOW)
           .replace("approved == True", "approved is True")  # a condition: nested text
           .replace('</bpmn:process>', '<bpmn:manualTask id="call_back" name="电话回访"/></bpmn:process>', 1)
           .replace('<spiffworkflow:property name="candidateDepartment" value="department"/>',
                    '<spiffworkflow:property name="candidateDepartment" value="department"/>'
                    '<spiffworkflow:property name="candidateRole" value="&quot;staff&quot;"/>', 1))
    result = diff(SOURCE, new)
    changes = by_id(result)
    assert result.ids("added") == ["call_back"] and changes["call_back"].tag == "manualTask"
    assert result.ids("removed") == ["flow_to_report_merge"] and changes["flow_to_report_merge"].tag == "sequenceFlow"
    assert ("property:candidateRole", None, '"staff"') in changes["draft_plan"].aspects
    condition = [c for c in result.changes if any(a[0] == "conditionExpression" for a in c.aspects)]
    assert len(condition) == 1 and condition[0].aspects == [("conditionExpression", "approved == True", "approved is True")]
    # incoming/outgoing repeat the flows: the tasks the removed flow joined are not "changed"
    assert "file_plan" not in changes and "report_merge" not in changes


def test_layout_and_formatting_are_not_element_changes():
    moved = SOURCE.replace('<dc:Bounds x="', '<dc:Bounds x="1', 1)
    result = diff(SOURCE, moved)
    assert result.changes == [] and result.layout_changed is True
    # a modeler's reformatting: attribute order and whitespace, xsi:type spelled otherwise
    reformatted = SOURCE.replace('<bpmn:userTask id="file_plan" name="备案">', '<bpmn:userTask   name="备案"\n id="file_plan">')
    assert diff(SOURCE, reformatted).changes == []


def test_a_lane_lists_its_members_as_a_set():
    old = LANES.format(refs="<bpmn:flowNodeRef>a</bpmn:flowNodeRef><bpmn:flowNodeRef>b</bpmn:flowNodeRef>")
    shuffled = LANES.format(refs="<bpmn:flowNodeRef>b</bpmn:flowNodeRef><bpmn:flowNodeRef>a</bpmn:flowNodeRef>")
    assert diff(old, shuffled).changes == []
    grown = LANES.format(refs="<bpmn:flowNodeRef>b</bpmn:flowNodeRef><bpmn:flowNodeRef>c</bpmn:flowNodeRef>"
                              "<bpmn:flowNodeRef>a</bpmn:flowNodeRef>")
    change = by_id(diff(old, grown))["lane_1"]
    assert change.tag == "lane" and change.aspects == [("flowNodeRef", "a, b", "a, b, c")]


def test_a_changed_type_is_named():
    head, tail = SOURCE.split('<bpmn:userTask id="file_plan"', 1)
    new = head + '<bpmn:manualTask id="file_plan"' + tail.replace("</bpmn:userTask>", "</bpmn:manualTask>", 1)
    change = by_id(diff(SOURCE, new))["file_plan"]
    assert change.aspects[0] == ("tag", "userTask", "manualTask")


def test_malformed_source_is_refused():
    with pytest.raises(InvalidDefinition):
        diff(SOURCE, "<bpmn:definitions")


def test_the_comparison_page_lists_and_marks_the_changes(server):
    # the task renamed, and its flow to the merge replaced by another (flow_x): one of each kind
    new_flow = '<bpmn:sequenceFlow id="flow_x" sourceRef="file_plan" targetRef="report_merge"/></bpmn:process>'
    source = (SOURCE.replace('name="备案"', 'name="登记备案"').replace(*REMOVE_FILE_PLAN_FLOW)
              .replace("<bpmn:outgoing>flow_to_report_merge<", "<bpmn:outgoing>flow_x<")
              .replace("<bpmn:incoming>flow_to_report_merge<", "<bpmn:incoming>flow_x<")
              .replace("</bpmn:process>", new_flow, 1))
    server.engine.deploy(source.encode(), actor="ada")
    page = Web(server.app, "ada").get("/designer/supervision/diff?from=1&to=2").text
    assert "修改用户任务「登记备案」" in page and "名称" in page
    assert "新增顺序流" in page and "删除顺序流" in page
    assert '"added": ["flow_x"]' in page and '"removed": ["flow_to_report_merge"]' in page
    assert "bpmn-navigated-viewer.production.min.js" in page
    # from/to and the older a/b both choose the versions; the same version twice has no changes
    assert "两个版本的元素没有变化" in Web(server.app, "ada").get("/designer/supervision/diff?a=2&b=2").text
    assert Web(server.app, "ada").get("/designer/supervision/diff?from=1&to=9").status_code == 404
