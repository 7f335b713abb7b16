"""The admin pages in a real browser: every navigation entry of each role, the escalation desk,
users and departments, and the admin cockpit (运行监控) with its instances and migration
(fixtures ``people``, ``browser``: tests/conftest.py)."""
import re

from tests.test_migration import supervision_with_legal_review
from tests.web_browser import PHONE


def test_admin_pages_escalation_desk_and_navigation(server, people):
    admin = people("admin")
    visited = admin.click_through_nav("admin")
    assert [label for label, _ in visited] == ["待办", "通知", "驾驶舱", "督办事项", "问题台账", "专项行动", "群众反映", "周报",
                                               "月度排名", "年度考核", "月度调度", "公示发布", "督查台", "问责台账", "流程设计",
                                               "运行监控", "用户", "部门", "工作日历", "模拟时钟"]

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
    asked = []
    admin.page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    admin.page.click("#advance-form button")
    admin.page.wait_for_load_state("load")
    assert asked and asked[0].startswith("确认推进模拟时钟？")
    assert admin.page.inner_text("#clock-now") != before and before.startswith("2026-11-23")
    assert admin.page.inner_text("#clock-now").startswith("2026-11-24")
    admin.shot("admin-clock")

    phone = people("admin", viewport=PHONE)
    phone.goto("/admin/users")
    phone.shot("phone-admin-users")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    for username in ("sup", "zhang", "boss", "sec", "ada"):
        people(username).click_through_nav(username)


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


def test_accounts_in_the_browser(server, people):
    """An admin edits a person and resets a password; a person changes their own password from
    the header; a lockout is lifted from the 用户 page (issue 13)."""
    admin = people("admin")
    admin.goto("/admin/users")
    with admin.page.expect_navigation():
        admin.page.click("a[data-edit=wang]")
    assert admin.page.title() == "编辑用户 · 督办"
    assert admin.page.locator("nav.nav a.active").inner_text() == "用户"
    admin.page.fill("#display_name", "住建局王五（副科长）")
    admin.page.check("input[name=roles][value=discipline]")
    with admin.page.expect_navigation():
        admin.page.click("#user-edit-form button")
    assert "已保存" in admin.page.inner_text(".flash")
    admin.page.fill("#password", "wang12345678")
    with admin.page.expect_navigation():
        admin.page.click("#reset-form button")
    assert "密码不能包含用户名" in admin.page.inner_text("#reset-form")
    admin.shot("admin-user-edit")

    zhang = people("zhang")
    with zhang.page.expect_navigation():
        zhang.page.click("#change-password")
    zhang.page.fill("#current", "correct-horse-battery")
    zhang.page.fill("#new", "Lanterns-over-the-river-7")
    zhang.page.fill("#repeat", "Lanterns-over-the-river-7")
    with zhang.page.expect_navigation():
        zhang.page.click("#password-form button")
    assert "密码已修改" in zhang.page.inner_text(".flash")
    zhang.shot("change-password")

    for _ in range(3):
        server.anonymous().post("/api/v1/auth/token", {"username": "boss", "password": "wrong-guess"})
    admin.goto("/admin/users")
    assert admin.page.locator("#lockouts tr[data-lockout=boss]").count() == 1
    admin.shot("admin-lockouts")
    with admin.page.expect_navigation():
        admin.page.click("#lockouts tr[data-lockout=boss] button")
    assert admin.page.locator("#lockouts tr[data-lockout=boss]").count() == 0
