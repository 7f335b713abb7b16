"""The web application in a real browser (Debian's Chromium through Playwright), over a real server.

People of each role use the pages as they would: the supervision loop up to filing the
plan, the designer's modeler and deploy, the admin pages, a supervisor handling an escalation
after the simulated clock passed a plan's due time (with the department's notification, comment
and refused extension), the admin cockpit, the rectification ledger and complaint triage, the
report pages (ECharts charts drawn, the printable circular on one A4 page). No page may log a
console error; every page has a title and working navigation. Screenshots of each page (and
the circular as a PDF) land in test-artifacts/.
"""
import datetime as dt
import re

import pytest

from tests.test_migration import supervision_with_legal_review
from tests.web_browser import ARTIFACTS, DESKTOP, PHONE, Person, launch

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


@pytest.fixture(scope="module")
def browser():
    yield from launch()


def _people(server, browser):
    opened = []

    def open_as(username, viewport=None):
        person = Person(browser, server.base, **({"viewport": viewport} if viewport else {}))
        opened.append(person)
        return person.login(username)

    yield open_as
    for person in opened:
        person.close()  # asserts: no console errors, no page errors


@pytest.fixture
def people(server, browser):
    yield from _people(server, browser)


@pytest.fixture
def history_people(history_server, browser):
    """People on the server over the reports' known history (tests/report_history.py; now 2026-10-20)."""
    yield from _people(history_server, browser)


def open_task(person, title):
    person.goto("/inbox")
    person.page.locator("#inbox a", has_text=title).first.click()
    person.page.wait_for_url(re.compile(r".*/tasks/"))


def test_supervision_loop_in_the_browser(server, people):
    sec = people("sec")
    sec.goto("/items/new")
    sec.page.fill("#f-title", "推进政务服务一网通办")
    sec.page.select_option("#f-basis", "meeting_decision")
    sec.page.select_option("#f-department", "d1")
    sec.page.check("input[name=co_departments][value=d2]")
    sec.page.select_option("#f-leader", "boss")
    sec.page.fill("#f-deadline", "2026-12-31")
    sec.page.fill("#f-requirements", "每周五前反馈进展")
    sec.shot("secretariat-new-item")
    sec.page.click("#submit-item")
    sec.page.wait_for_url(re.compile(r".*/items/[0-9a-f-]+$"))
    assert "DB-2026-0001" in sec.page.title()
    item_url = sec.page.url

    staff = people("zhang")
    assert staff.page.title() == "我的待办 · 督办"
    row = staff.page.locator("#inbox tr", has_text="制定工作计划")
    assert "DB-2026-0001" in row.inner_text() and "正常" in row.inner_text()
    staff.shot("staff-inbox")
    row.locator("a", has_text="制定工作计划").click()
    staff.page.wait_for_url(re.compile(r".*/tasks/"))
    assert "督办通知单" in staff.page.content() and "每周五前反馈进展" in staff.page.content()
    staff.page.fill("#f-owner", "zhang")
    staff.page.fill("[name='milestones.0.date']", "2026-12-10")
    staff.page.fill("[name='milestones.0.target']", "完成方案")
    staff.page.click("button.add-row")
    staff.page.fill("[name='milestones.1.date']", "2026-12-25")
    staff.page.fill("[name='milestones.1.target']", "全面上线")
    staff.page.fill("#f-measures", "成立专班，每周调度")
    staff.page.click("#submit-task")  # expected_result left empty

    error = staff.page.locator("[data-field-name=expected_result] .field-error")
    assert error.inner_text() == "此项为必填"
    assert staff.page.locator("[data-field-name=owner] .field-error").count() == 0
    assert staff.page.input_value("#f-owner") == "zhang"
    assert staff.page.input_value("[name='milestones.1.target']") == "全面上线"
    assert staff.page.input_value("#f-measures") == "成立专班，每周调度"
    staff.shot("staff-task-field-error")
    staff.page.fill("#f-expected_result", "按期全面上线")
    staff.page.click("#submit-task")
    staff.page.wait_for_url(re.compile(r".*/inbox$"))
    assert "已办理：制定工作计划" in staff.page.locator(".flash").inner_text()

    leader = people("boss")
    open_task(leader, "审定工作计划")
    assert "全面上线" in leader.page.inner_text("#plan")
    leader.page.check("input[name=approved][value=true]")
    leader.page.fill("#f-comment", "同意")
    leader.shot("leader-approve-plan")
    leader.page.click("#submit-task")
    leader.page.wait_for_url(re.compile(r".*/inbox$"))

    open_task(sec, "备案")
    sec.shot("secretariat-file-plan")
    sec.page.click("#submit-task")
    sec.page.wait_for_url(re.compile(r".*/inbox$"))

    sec.page.goto(item_url)
    sec.page.wait_for_selector("#diagram[data-ready=true]")
    assert sec.page.locator(".djs-element.highlight[data-element-id=report_progress]").count() == 1
    for done in ("draft_plan", "approve_plan", "file_plan"):
        assert sec.page.locator(f".djs-element.done[data-element-id={done}]").count() == 1
    assert "已备案" in sec.page.content()
    sec.shot("item-detail")

    sec.goto("/items?status=open&q=一网通办")
    assert sec.page.locator("#items tbody tr").count() == 1
    sec.shot("items-list")

    phone = people("zhang", viewport=PHONE)
    assert phone.page.locator("#inbox", has_text="进度反馈").count() == 1
    phone.shot("phone-inbox")
    open_task(phone, "进度反馈")
    phone.page.fill("#f-progress", "40")
    phone.shot("phone-task")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


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
    designer.page.click("#deploy")
    designer.page.wait_for_selector("#canvas[data-deployed]")
    assert "已部署：ladder 版本 2" in designer.page.inner_text("#status")


def test_admin_pages_escalation_desk_and_navigation(server, people):
    admin = people("admin")
    visited = admin.click_through_nav("admin")
    assert [label for label, _ in visited] == ["待办", "通知", "督办事项", "问题台账", "群众反映", "周报", "月度排名",
                                               "年度考核", "督查台", "流程设计", "运行监控", "用户", "部门",
                                               "工作日历", "模拟时钟"]

    admin.goto("/admin/departments")
    admin.page.fill("#code", "d3")
    admin.page.fill("#name", "教育局")
    admin.page.click("#department-form button")
    assert "教育局" in admin.page.locator("#departments").inner_text()
    admin.shot("admin-departments")
    admin.goto("/admin/users")
    admin.page.fill("#username", "zhao")
    admin.page.fill("#display_name", "教育局赵六")
    admin.page.fill("#password", "long-enough-pw")
    admin.page.select_option("#department", "d3")
    admin.page.check("input[name=roles][value=staff]")
    admin.page.click("#user-form button")
    assert "教育局赵六" in admin.page.locator("#users").inner_text()
    admin.shot("admin-users")

    admin.goto("/admin/calendar?year=2026")
    assert admin.page.get_attribute("#year-status", "data-status") == "official"
    assert "2026-10-01" in admin.page.inner_text("#holidays")
    admin.shot("admin-calendar")
    admin.goto("/admin/clock")
    before = admin.page.inner_text("#clock-now")
    admin.page.fill("input[name=amount]", "1")
    admin.page.select_option("select[name=unit]", "days")
    admin.page.click("#advance-form button")
    assert admin.page.inner_text("#clock-now") != before and before.startswith("2026-11-23")
    assert admin.page.inner_text("#clock-now").startswith("2026-11-24")
    admin.shot("admin-clock")

    phone = people("admin", viewport=PHONE)
    phone.goto("/admin/users")
    phone.shot("phone-admin-users")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    for username in ("sup", "zhang", "boss", "sec", "ada"):
        people(username).click_through_nav(username)


PLAN_OVERDUE = "2026-11-25T18:00:01+08:00"  # the item is registered Mon 09:00; its plan fell due Wed 18:00


def test_supervisor_handles_an_escalation_after_the_clock_moves(server, people):
    """The escalation desk's done-when: the plan falls overdue on the simulated clock, the supervisor
    sees the escalation with its proposed measure 提醒约谈, chooses remind, and it moves to handled."""
    item = server.login("sec").post("/api/v1/items", {
        "title": "推进政务服务一网通办", "basis": "meeting_decision", "department": "d1", "co_departments": [],
        "leader": "boss", "deadline": "2026-12-31", "requirements": "每周五前反馈进展"}).json()
    server.engine.advance_clock(to=dt.datetime.fromisoformat(PLAN_OVERDUE))

    sup = people("sup")
    assert sup.page.locator("nav.nav a", has_text="通知").locator(".nav-count").inner_text() == "1"
    sup.page.locator("nav.nav a", has_text="督查台").click()
    sup.page.wait_for_url(re.compile(r".*/escalations$"))
    assert sup.page.title() == "督办升级台 · 督办"
    card = sup.page.locator("section.escalation").first
    escalation = card.get_attribute("data-escalation")
    assert item["code"] in card.inner_text() and "尚未接入" not in sup.page.content()
    assert card.locator("[data-field=proposed_measure]").inner_text() == "提醒约谈"
    assert card.locator("[data-field=level]").inner_text() == "本年度第 1 次逾期"
    assert card.locator("[data-field=department]").inner_text() == "发展和改革委员会"
    # the fields of the chosen action only (progressive enhancement)
    new_due, username = card.locator("[data-field-name=new_due]"), card.locator("[data-field-name=username]")
    assert new_due.is_hidden() and username.is_hidden()
    card.locator("input[name=action][value=extend]").check()
    assert new_due.is_visible() and username.is_hidden()
    card.locator("input[name=action][value=reassign]").check()
    assert username.is_visible() and "发改委李四（li）" in username.inner_text()
    card.locator("input[name=action][value=remind]").check()
    assert new_due.is_hidden() and username.is_hidden()
    card.locator("textarea[name=comment]").fill("请于今日下班前报送工作计划")
    sup.shot("supervisor-escalations")

    phone = people("sup2", viewport=PHONE)
    phone.goto("/escalations")
    assert phone.page.locator("section.escalation").count() == 1
    phone.shot("phone-escalations")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    with sup.page.expect_navigation():  # back to the desk (the same address)
        card.locator("button.handle").click()
    assert re.search(r"/escalations(#escalation-\d+)?$", sup.page.url)
    assert "已处置" in sup.page.locator(".flash").inner_text() and "已提醒催办" in sup.page.locator(".flash").inner_text()
    assert sup.page.locator("section.escalation").count() == 0 and sup.page.locator("#no-escalations").count() == 1
    sup.page.click("#tab-handled")
    sup.page.wait_for_url(re.compile(r".*state=handled"))
    row = sup.page.locator(f"#handled tr[data-escalation='{escalation}']")
    assert row.get_attribute("data-action") == "remind"
    assert "提醒催办" in row.inner_text() and "请于今日下班前报送工作计划" in row.inner_text()
    sup.shot("supervisor-escalations-handled")

    # the department hears of it; an extension is no longer possible, and says why
    staff = people("zhang")
    staff.page.locator("nav.nav a", has_text="通知").click()
    staff.page.wait_for_url(re.compile(r".*/notifications$"))
    newest = staff.page.locator("#notifications li").first
    assert "督办催办" in newest.inner_text() and "请于今日下班前报送工作计划" in newest.inner_text()
    assert newest.locator(".unread-mark").count() == 1
    staff.shot("staff-notifications")
    with staff.page.expect_navigation():
        newest.locator("button.mark-read").click()
    assert staff.page.locator("#notifications li").first.locator(".unread-mark").count() == 0
    staff.page.locator("#notifications li").first.locator("a", has_text="查看办理环节").click()
    staff.page.wait_for_url(re.compile(r".*/tasks/"))
    staff.page.fill("#comment-body", "今日报送")
    with staff.page.expect_navigation():
        staff.page.click("#comment-form button")
    assert "今日报送" in staff.page.inner_text("#comments")
    staff.shot("staff-task-comments")
    staff.page.click("#extension-link")
    staff.page.wait_for_url(re.compile(r".*/extension\?task_id="))
    staff.page.fill("#f-new_due", "2026-11-30T18:00")
    staff.page.fill("#f-reason", "需协调市级部门")
    staff.page.fill("#f-progress", "30")
    staff.page.click("#submit-extension")
    message = staff.page.locator("[data-field-name=task_id] .field-error").inner_text()
    assert "已于 2026-11-25 18:00 到期" in message and "延期须在到期前申请" in message
    staff.shot("staff-extension-refused")


def test_admin_cockpit(server, people):
    server.login("sec").post("/api/v1/items", {
        "title": "老旧小区改造", "basis": "meeting_decision", "department": "d1", "co_departments": [],
        "leader": "boss", "deadline": "2026-12-31", "requirements": ""})
    admin = people("admin")
    admin.page.locator("nav.nav a", has_text="运行监控").click()
    admin.page.wait_for_url(re.compile(r".*/admin/monitor$"))
    assert admin.page.title() == "运行监控 · 督办"
    assert admin.page.locator("#instance-counts tr[data-definition=supervision] [data-status=running]").inner_text() == "1"
    assert admin.page.locator("#pending-timers tr[data-timer]").count() == 2
    assert admin.page.locator("#department-tasks tr[data-department=d1] [data-field=open]").inner_text() == "1"
    admin.shot("admin-monitor")
    admin.page.click("text=流程实例")
    admin.page.wait_for_url(re.compile(r".*/admin/instances$"))
    row = admin.page.locator("#instances tr[data-status=running]").first
    row.locator("input[name=reason]").fill("核查数据")
    with admin.page.expect_navigation():
        row.locator("button.suspend").click()
    assert admin.page.locator("#instances tr[data-status=suspended]").count() == 1
    admin.shot("admin-instances")
    with admin.page.expect_navigation():
        admin.page.locator("#instances tr[data-status=suspended] button.resume").click()
    assert admin.page.locator("#instances tr[data-status=running]").count() >= 1

    # the migration dry run, then the move (a v2 with a 合法性审查 step)
    server.engine.deploy(supervision_with_legal_review(), actor="ada")
    admin.page.click("nav.nav a:has-text('运行监控')")
    admin.page.click("text=流程迁移")
    admin.page.wait_for_url(re.compile(r".*/admin/migration$"))
    admin.page.select_option("#from_version", "1")
    admin.page.select_option("#to_version", "2")
    admin.page.click("#dry-run")
    admin.page.wait_for_url(re.compile(r".*from_version=1&to_version=2"))
    assert admin.page.inner_text("#movable-count") == "可迁移 1 个"
    assert admin.page.locator("#dry-run-results tr[data-can-move=true]").count() == 1
    admin.shot("admin-migration")
    admin.page.once("dialog", lambda dialog: dialog.accept())  # 确认迁移？
    with admin.page.expect_navigation():
        admin.page.click("#migrate")
    assert "已迁移 1 个实例到版本 2" in admin.page.locator(".flash").inner_text()
    assert admin.page.locator("#version-counts tr[data-version='2'] [data-status=running]").inner_text() == "1"

    phone = people("admin", viewport=PHONE)
    phone.goto("/admin/monitor")
    phone.shot("phone-admin-monitor")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_rectification_pages(server, people):
    server.anonymous().post("/api/v1/complaints", {"text": "小区门口路灯坏了一个月，夜间出行不便", "contact": "13800000000"})
    sec = people("sec")
    sec.page.locator("nav.nav a", has_text="问题台账").click()
    sec.page.click("#new-problem")
    sec.page.wait_for_url(re.compile(r".*/problems/new$"))
    sec.page.fill("#f-title", "窗口服务态度差")
    sec.page.select_option("#f-source", "inspection")
    sec.page.select_option("#f-department", "d1")
    sec.page.fill("#f-deadline", "2026-12-31")
    sec.page.click("#submit-problem")  # no description: optional
    sec.page.wait_for_url(re.compile(r".*/problems/[0-9a-f-]+$"))
    assert "ZG-2026-0001" in sec.page.title() and "移交" in sec.page.inner_text("#open-steps")
    sec.shot("problem-detail")

    sec.page.locator("nav.nav a", has_text="群众反映").click()
    sec.page.wait_for_url(re.compile(r".*/complaints$"))
    sec.shot("complaints")
    sec.page.locator("#complaints a", has_text="分拣处理").click()
    sec.page.fill("#f-title", "修复小区门口路灯")
    sec.page.select_option("#f-department", "d2")
    sec.page.fill("#f-deadline", "2026-12-15")
    sec.shot("complaint-triage")
    sec.page.click("#submit-triage")
    sec.page.wait_for_url(re.compile(r".*/problems/[0-9a-f-]+$"))
    assert "ZG-2026-0002" in sec.page.title()

    sec.page.locator("nav.nav a", has_text="问题台账").click()
    assert sec.page.locator("#problems tr[data-problem]").count() == 2
    sec.page.select_option("select[name=source]", "complaint")  # the filter submits itself
    sec.page.wait_for_url(re.compile(r".*source=complaint"))
    assert sec.page.locator("#problems tr[data-problem]").count() == 1
    with sec.page.expect_download() as download:
        sec.page.click("a[data-download=xlsx]")
    assert download.value.suggested_filename == "problems.xlsx"
    sec.shot("problems-ledger")

    phone = people("wang", viewport=PHONE)
    phone.page.locator("nav.nav a", has_text="问题台账").click()
    assert phone.page.locator("#problems tr[data-problem]").count() == 1  # 住建局's problem only
    phone.shot("phone-problems-ledger")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


CHARTS = ("chart-ranking", "chart-lights", "chart-trend")
A4_CONTENT = {"width": 658, "height": 971}  # 210 × 297 mm less the @page margins (18 / 20 mm), at 96 dpi


def test_report_pages_with_charts_print_view_and_weekly(history_people):
    sec = history_people("sec")
    sec.page.locator("nav.nav a", has_text="月度排名").click()
    sec.page.wait_for_load_state("load")
    assert sec.page.title() == "月度通报排名 2026-10 · 督办"  # this month (now: 2026-10-20) by default
    for chart in CHARTS:
        sec.page.wait_for_selector(f"#{chart}[data-ready=true]")
        canvas = sec.page.locator(f"#{chart} canvas")
        assert canvas.count() >= 1, chart
        box = canvas.first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, (chart, box)
    assert sec.page.locator("#ranking tbody tr").first.get_attribute("data-department") == "d1"
    sec.shot("report-ranking")

    # the month picker: September, then the printable circular of October
    sec.page.fill("input[name=month]", "2026-09")
    sec.page.click("form.period button[type=submit]")
    sec.page.wait_for_url(re.compile(r".*month=2026-09"))
    sec.page.wait_for_selector("#chart-ranking[data-ready=true]")
    assert sec.page.locator("#ranking tr[data-department=d1] [data-field=on_time_rate]").inner_text() == "50.0%"
    sec.goto("/reports/ranking?month=2026-10")
    sec.page.click("#print-link")
    sec.page.wait_for_url(re.compile(r".*/reports/ranking/print\?month=2026-10"))
    assert sec.page.locator("h1.doc-title").inner_text() == "关于2026年10月督办事项办理情况的通报"
    assert "发展和改革委员会按时办理率为100%" in sec.page.inner_text("#circular-summary")
    sec.page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    sec.page.click("#print-button")
    assert sec.page.get_attribute("body", "data-printed") == "yes"
    sec.shot("report-print-screen")
    sec.page.emulate_media(media="print")
    assert sec.page.locator("header.topbar").is_hidden() and sec.page.locator(".print-toolbar").is_hidden()
    assert sec.page.locator("#circular").is_visible()
    sec.page.set_viewport_size(A4_CONTENT)  # the print media at the width of an A4 page's text
    sec.shot("report-print")
    pdf = sec.page.pdf(path=str(ARTIFACTS / "report-print.pdf"), prefer_css_page_size=True)
    assert re.findall(rb"/MediaBox\s*\[0 0 (\d+)[.\d]* (\d+)", pdf) == [(b"594", b"841")]  # one A4 page (@page)
    sec.page.emulate_media(media="screen")
    sec.page.set_viewport_size(DESKTOP)

    sec.page.locator("nav.nav a", has_text="周报").click()
    sec.page.wait_for_load_state("load")
    assert sec.page.title() == "周报 2026-W43 · 督办"
    assert sec.page.locator("tr[data-light=red] .pill-red").count() == 1
    assert sec.page.locator("tr[data-light=green] .pill-green").count() == 1
    with sec.page.expect_download() as download:
        sec.page.click("a[data-download=xlsx]")
    assert download.value.suggested_filename == "weekly-2026-W43.xlsx"
    sec.shot("report-weekly")
    sec.page.click("a[rel=prev]")
    sec.page.click("a[rel=prev]")  # the National Day week: item A's latest report, 100% and done
    sec.page.wait_for_url(re.compile(r".*week=2026-W41"))
    assert "A二" in sec.page.locator("tr[data-light=green] [data-field=latest_report]").inner_text()
    sec.shot("report-weekly-w41")

    sec.page.locator("nav.nav a", has_text="年度考核").click()
    sec.page.wait_for_load_state("load")
    assert sec.page.locator("#year-table tr[data-department=d1] [data-field=closure_rate]").inner_text() == "100.0%"
    sec.shot("report-year")

    staff = history_people("wang")
    assert "周报" not in staff.nav_labels() and "月度排名" in staff.nav_labels()
    staff.page.locator("nav.nav a", has_text="月度排名").click()
    staff.page.wait_for_selector("#chart-lights[data-ready=true]")
    staff.shot("report-ranking-staff")

    phone = history_people("boss", viewport=PHONE)
    phone.goto("/reports/ranking?month=2026-10")
    for chart in CHARTS:
        phone.page.wait_for_selector(f"#{chart}[data-ready=true]")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.shot("phone-report-ranking")
