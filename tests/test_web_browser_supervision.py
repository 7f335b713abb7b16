"""The supervision pages in a real browser (Debian's Chromium through Playwright), over a real server.

The loop up to filing the plan, each person on their own pages; and a supervisor handling an
escalation after the simulated clock passed a plan's due time (with the department's
notification, comment and refused extension). No page may log a console error; screenshots
land in test-artifacts/ (fixtures ``people``, ``browser``: tests/conftest.py).
"""
import datetime as dt
import re

from tests.web_browser import PHONE


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
