"""The process designer in a real browser: the BPMN modeler's edit and deploy, and the DMN
decision table modeler (fixtures ``people``, ``browser``: tests/conftest.py)."""


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
    assert "已部署：supervision 版本 2" in designer.page.inner_text("#status")
    designer.shot("designer-modeler")

    designer.page.locator("#status a").click()
    assert designer.page.locator("#versions tr[data-version='2']").count() == 1
    designer.shot("designer-versions")
    designer.page.click("form[action$='/diff'] button")
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
    assert "部署失败" in status and "file_plan" in status
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
    assert "已部署：ladder 版本 2" in designer.page.inner_text("#status")
