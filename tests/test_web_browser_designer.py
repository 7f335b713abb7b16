"""The process designer in a real browser: the BPMN modeler's edit and deploy, and the DMN
decision table modeler (fixtures ``people``, ``browser``: tests/conftest.py)."""
import json

from lxml import etree


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Definitions_ladder" name="问责" namespace="http://example.gov.cn/dmn">
  <decision id="ladder" name="问责措施">
    <decisionTable id="ladder_table" hitPolicy="FIRST">
      <input id="in_count" label="年度逾期次数">
        <inputExpression id="in_count_expr" typeRef="integer"><text>overdue_count</text></inputExpression>
      </input>
      <output id="out_measure" label="措施" name="measure" typeRef="string"/>
      <rule id="r1"><inputEntry id="r1_in"><text>1</text></inputEntry><outputEntry id="r1_out"><text>"提醒约谈"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="r2_in"><text>2</text></inputEntry><outputEntry id="r2_out"><text>"通报批评"</text></outputEntry></rule>
      <rule id="r3"><inputEntry id="r3_in"><text>&gt;= 3</text></inputEntry><outputEntry id="r3_out"><text>"考核扣分"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_designer_edits_and_deploys(server, people):
    designer = people("ada")
    designer.page.locator("nav.nav a", has_text="流程设计").click()
    designer.page.locator("#definitions tr", has_text="supervision").locator("a", has_text="打开编辑").click()
    designer.page.wait_for_selector("#canvas[data-ready=true]")
    designer.page.evaluate("""() => {
        const modeler = window.dubanModeler;
        const task = modeler.get('elementRegistry').get('file_plan');
        modeler.get('modeling').updateLabel(task, '登记备案');
    }""")
    designer.page.once("dialog", lambda dialog: dialog.accept())  # 确认部署？
    designer.page.click("#deploy")
    designer.page.wait_for_selector("#canvas[data-deployed]")
    assert "已部署：督查督办 版本 2" in designer.page.inner_text("#status")
    designer.shot("designer-modeler")

    designer.page.locator("#status a").click()
    designer.page.wait_for_selector("#versions")  # count() does not wait for the navigation
    assert designer.page.locator("#versions tr[data-version='2']").count() == 1
    designer.shot("designer-versions")
    designer.page.click("form[action$='/diff'] button")
    assert "修改用户任务「登记备案」" in designer.page.inner_text("#changes")
    designer.page.click("#xml-diff summary")  # the XML's line diff, folded under the diagrams
    assert "登记备案" in designer.page.locator("#diff .add").all_inner_texts().__str__()
    designer.shot("designer-diff")

    # a broken diagram is refused with the element marked
    designer.goto("/designer/supervision/2/edit")
    designer.page.wait_for_selector("#canvas[data-ready=true]")
    designer.page.evaluate("""() => {
        const modeler = window.dubanModeler;
        const flow = modeler.get('elementRegistry').get('flow_to_report_merge');
        modeler.get('modeling').removeElements([flow]);
    }""")
    designer.page.once("dialog", lambda dialog: dialog.accept())  # 确认部署？
    designer.page.click("#deploy")
    designer.page.wait_for_selector(".djs-element.deploy-error")
    status = designer.page.inner_text("#status")
    # in Chinese: the element by its name and kind, not its id or the parser's English
    assert "部署失败（元素「登记备案」，第 " in status and "：用户任务没有流出的顺序流" in status, status
    assert designer.page.locator(".djs-element.deploy-error[data-element-id=file_plan]").count() == 1
    designer.shot("designer-deploy-error")


def test_decision_table_in_the_dmn_modeler(server, people):
    server.engine.deploy(DMN.encode(), actor="ada")
    designer = people("ada")
    designer.goto("/designer")
    designer.page.locator("#definitions tr", has_text="ladder").locator("a", has_text="打开编辑").click()
    designer.page.wait_for_selector("#canvas[data-ready=true]")
    table = designer.page.locator(".tjs-table")
    assert table.count() == 1 and "提醒约谈" in table.inner_text()
    designer.shot("designer-dmn")
    designer.page.once("dialog", lambda dialog: dialog.accept())  # 确认部署？
    designer.page.click("#deploy")
    designer.page.wait_for_selector("#canvas[data-deployed]")
    assert "已部署：问责措施 版本 2" in designer.page.inner_text("#status")


def test_properties_panel_form_editor_header_refusal_and_visual_diff(server, people):
    """Issue 17 item 9: the 督办属性 group sets a user task's candidate role, the form editor adds
    a field with the task page's preview, the header shows the version deployed, a refusal is
    pinned in Chinese on its element, and the comparison colours what changed."""
    designer = people("ada")
    page = designer.page
    designer.goto("/designer/supervision/1/edit")
    page.wait_for_selector("#canvas[data-ready=true]")
    page.click(".djs-element[data-element-id=file_plan]")
    group = page.locator("[data-group-id=group-duban]")
    group.wait_for()
    assert "督办属性" in group.inner_text() and "用户任务" in page.inner_text("#properties")
    page.select_option("[data-entry-id=duban-candidateRole] select", label="秘书科")
    assert page.evaluate("() => window.DubanPanel.getProperty("
                         "window.dubanModeler.get('elementRegistry').get('file_plan'), 'candidateRole')") == '"secretariat"'
    page.fill("[data-entry-id=duban-dueDate] input", "plan_due")
    designer.shot("designer-properties-panel")

    # a timer: its kind and value, one undoable command each
    timer = "window.dubanModeler.get('elementRegistry').get('remind_plan').businessObject.eventDefinitions[0]"
    page.evaluate("() => { const m = window.dubanModeler; m.get('selection').select(m.get('elementRegistry').get('remind_plan')); }")
    page.select_option("[data-entry-id=duban-timer-kind] select", "timeDuration")
    page.fill("[data-entry-id=duban-timer-value] input", "P2D")
    page.wait_for_function(f"() => {timer}.timeDuration && {timer}.timeDuration.body === 'P2D' && !{timer}.timeDate")
    assert "定时边界事件（非中断）" in page.inner_text("#properties")
    designer.shot("designer-properties-timer")
    page.evaluate("() => { const stack = window.dubanModeler.get('commandStack'); stack.undo(); stack.undo(); }")
    assert page.evaluate(f"() => {timer}.timeDate.body") == "last_working_day_start(plan_due)"
    assert page.evaluate(f"() => !{timer}.timeDuration")
    page.click(".djs-element[data-element-id=file_plan]")

    # the form editor: the task's one field, a new one, a select without options refused in Chinese
    page.click(".duban-open-form-editor")
    page.wait_for_selector("#form-editor[data-previewed]")
    assert "备案说明" in page.inner_text("#form-preview")
    page.click("#form-add-field")
    row = page.locator("#form-fields tr").last
    row.locator(".f-key").fill("phone")
    row.locator(".f-title").fill("联系电话")
    row.locator(".f-type").select_option("select")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "第 2 个字段：选择题请填写选项" in page.inner_text("#form-error")
    row.locator(".f-options").fill("座机，手机")
    row.locator(".f-required").check()
    page.wait_for_function("() => document.querySelector('#form-preview').innerText.includes('联系电话')")
    assert page.locator("#form-preview select option", has_text="手机").count() == 1
    assert page.locator("#form-error").is_hidden()
    designer.shot("designer-form-editor")
    page.click("#form-save")
    page.wait_for_selector("#form-editor", state="hidden")
    assert "共 2 个字段" in page.inner_text("[data-group-id=group-duban]")

    page.once("dialog", lambda dialog: dialog.accept())  # 确认部署？
    page.click("#deploy")
    page.wait_for_selector("#canvas[data-deployed]")
    assert page.inner_text("#deployed-version") == "流程「督查督办」第 2 版 已部署"
    assert page.url.endswith("/designer/supervision/2/edit")
    designer.shot("designer-deployed-header")
    deployed = server.engine.definitions.get
    with server.engine.db.read() as db:
        source = deployed(db, "supervision", 2).source
    task = etree.fromstring(source.encode()).find(".//{*}userTask[@id='file_plan']")
    props = {p.get("name"): p.get("value") for p in task.iter("{*}property")}
    assert props["candidateRole"] == '"secretariat"' and props["dueDate"] == "plan_due"
    assert json.loads(props["formSchema"])["properties"]["phone"] == {
        "type": "string", "title": "联系电话", "enum": ["座机", "手机"]}
    assert json.loads(props["formSchema"])["required"] == ["phone"]

    # a broken diagram: the refusal in Chinese pinned on the element
    page.evaluate("""() => {
        const modeler = window.dubanModeler;
        modeler.get('modeling').removeElements([modeler.get('elementRegistry').get('flow_to_report_merge')]);
    }""")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#deploy")
    note = page.locator(".djs-overlay .deploy-error-note")
    note.wait_for()
    assert note.inner_text() == "用户任务没有流出的顺序流"
    assert page.locator(".djs-overlays[data-container-id=file_plan] .deploy-error-note").count() == 1
    assert page.locator(".djs-element.deploy-error[data-element-id=file_plan]").count() == 1
    designer.shot("designer-deploy-error-on-element")

    # the comparison: both diagrams, the task coloured as changed, the changes listed in Chinese
    designer.goto("/designer/supervision/diff?from=1&to=2")
    page.wait_for_selector("#diff-left[data-ready=true]")
    page.wait_for_selector("#diff-right[data-ready=true]")
    assert page.locator("#diff-right .djs-element.diff-changed[data-element-id=file_plan]").count() == 1
    assert page.locator("#diff-left .djs-element.diff-changed[data-element-id=file_plan]").count() == 1
    changes = page.inner_text("#changes")
    assert "修改用户任务「备案」" in changes and "候选角色：新设为" in changes and "办理表单已修改" in changes
    designer.shot("designer-visual-diff")
