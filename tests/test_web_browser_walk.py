"""The issue-17 walk in Chromium, at desktop (1280) and phone (390) width: the secretariat registers
an item, the department drafts its plan, the leader returns it (退回 with a reason), the department
sees the 退回 mark and the form filled with last time's answers and resubmits, the leader reads the
交办 notification of the new 审定 step, the secretariat cancels another item (撤销: the confirmation
names the consequence), and the cockpit (驾驶舱) shows the figures after the clock passed a due time.

Every page visited goes through ``tests/web_browser.py``'s leak check (ASCII identifiers, ISO week
codes, raw JSON in visible text: a console error, so the test fails); screenshots of each step land
in ``test-artifacts/walk-<step>-<width>.png``.
"""
import re

import pytest

from tests.helpers import ITEM
from tests.web_browser import DESKTOP, PHONE

LATE = "2026-11-25T18:00:01+08:00"  # the plans registered on Monday 09:00 are overdue


@pytest.fixture
def server(server_factory):
    return server_factory(auth={"token_hours": 24 * 30})


def open_task(person, title):
    person.goto("/inbox")
    person.page.locator("#inbox a", has_text=title).first.click()
    person.page.wait_for_url(re.compile(r".*/tasks/"))


def submit(person, button="#submit-task", url=r".*/inbox$"):
    person.page.click(button)
    person.page.wait_for_url(re.compile(url))


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_walk(server, people, width):
    viewport = DESKTOP if width == "desktop" else PHONE

    def shot(person, step):
        person.shot(f"walk-{step}-{width}")
        assert person.page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1, step

    # 1. 立项交办: the secretariat registers the item.
    sec = people("sec", viewport)
    sec.goto("/items/new")
    sec.page.fill("#f-title", "推进政务服务一网通办")
    sec.page.select_option("#f-basis", "meeting_decision")
    sec.page.select_option("#f-department", "d1")
    sec.page.select_option("#f-leader", "boss")
    sec.page.fill("#f-deadline", "2026-12-31")
    sec.page.fill("#f-requirements", "每周五前反馈进展")
    shot(sec, "01-register")
    submit(sec, "#submit-item", r".*/items/[0-9a-f-]+$")
    assert "DB-2026-0001" in sec.page.title()
    shot(sec, "02-registered")

    # 2. The department drafts its plan.
    staff = people("zhang", viewport)
    open_task(staff, "制定工作计划")
    staff.page.fill("#f-owner", "zhang")
    staff.page.fill("[name='milestones.0.date']", "2026-12-10")
    staff.page.fill("[name='milestones.0.target']", "完成方案")
    staff.page.fill("#f-measures", "成立专班")
    staff.page.fill("#f-expected_result", "按期上线")
    shot(staff, "03-draft-plan")
    submit(staff)

    # 3. The leader returns it with a reason.
    leader = people("boss", viewport)
    open_task(leader, "审定工作计划")
    leader.page.check("input[name=approved][value=false]")
    leader.page.fill("#f-comment", "措施不具体，请细化到周")
    shot(leader, "04-return")
    submit(leader)

    # 4. The department sees 退回 and last time's answers, and resubmits.
    staff.goto("/inbox")
    row = staff.page.locator("#inbox tr[data-returned]")
    assert row.count() == 1 and row.locator(".returned-mark").inner_text() == "退回"
    shot(staff, "05-returned-inbox")
    row.locator("a", has_text="制定工作计划").click()
    staff.page.wait_for_url(re.compile(r".*/tasks/"))
    assert "已退回：措施不具体，请细化到周" in staff.page.locator("#returned").inner_text()
    assert staff.page.input_value("#f-measures") == "成立专班"
    assert staff.page.input_value("[name='milestones.0.target']") == "完成方案"
    shot(staff, "06-returned-form")
    staff.page.fill("#f-measures", "成立专班，每周调度")
    submit(staff)
    assert "已办理：制定工作计划" in staff.page.locator(".flash").inner_text()

    # 5. The leader's notifications: the 交办 of the new 审定 step (after the resubmission).
    leader.goto("/notifications")
    handoffs = leader.page.locator("#notifications li[data-kind=task_opened]")
    assert handoffs.count() == 2  # the first plan's and the resubmitted plan's 审定
    assert "待办：DB-2026-0001「审定工作计划」" in handoffs.first.inner_text()
    assert "有新的待办「审定工作计划」交由您办理" in handoffs.first.inner_text()
    shot(leader, "07-handoff-notification")

    # 6. The secretariat cancels another item: asked first, then cancelled.
    other = server.login("sec").post("/api/v1/items", {**ITEM, "title": "老旧小区改造"}).json()
    late = server.login("sec").post("/api/v1/items", {**ITEM, "title": "营商环境评估", "department": "d2",
                                                      "co_departments": []}).json()
    sec.goto(f"/items/{other['id']}")
    asked = []
    sec.page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    sec.page.fill("#cancel-form textarea[name=reason]", "会议决定不再督办")
    with sec.page.expect_navigation():
        sec.page.click("#cancel-form button")
    assert asked and asked[0].startswith(f"确认撤销事项 {other['code']}「老旧小区改造」？")
    assert "已撤销" in sec.page.inner_text(".summary")
    shot(sec, "08-cancelled")

    # 7. The cockpit, after Wednesday 18:00 passed: the open plan of the third item is overdue, and
    # so is the first item's 审定 (a leader's approval is due two working days after it opened).
    assert server.login("admin").post("/api/v1/clock/advance", {"to": LATE}).status_code == 200
    sec.goto("/cockpit")
    for chart in ("overdue", "lights", "flow"):
        sec.page.wait_for_selector(f"[data-chart={chart}][data-ready=true]")
    counts = {light: sec.page.inner_text(f"#lights a[data-kind=items][data-light={light}] b")
              for light in ("total", "red", "yellow", "green")}
    assert counts == {"total": "2", "red": "2", "yellow": "0", "green": "0"}  # the cancelled item is gone
    assert "住房和城乡建设局" in sec.page.inner_text("#overdue")
    assert late["code"] in sec.page.inner_text("#due-this-week")
    assert other["code"] not in sec.page.inner_text("#due-this-week")
    assert "共立项 3 项" in sec.page.inner_text("#trend")
    shot(sec, "09-cockpit-secretariat")

    leader.goto("/cockpit")
    leader.page.wait_for_selector("[data-chart=flow][data-ready=true]")
    assert "我分管的事项" in leader.page.inner_text(".summary")
    shot(leader, "10-cockpit-leader")
    leader.page.click("#lights a[data-kind=items][data-light=red]")
    leader.page.wait_for_url(re.compile(r".*/items\?"))
    assert "营商环境评估" in leader.page.inner_text("main")
    shot(leader, "11-red-items")


def test_the_leak_guard_catches_each_kind(server, people):
    """The guard the walk relies on reports ASCII identifiers, ISO week codes and raw JSON that a
    page shows after it loaded (a chart, a script's message), and leaves Chinese text alone."""
    sec = people("sec")
    sec.goto("/cockpit")
    leaks = ["state monthly_ranking", "第 2026-W48 周", '{"light": "red"}', '["d1", "d2"]']
    sec.page.evaluate("""(texts) => texts.forEach(text => {
        const p = document.createElement("p"); p.textContent = text; document.querySelector("main").append(p); })""",
                      leaks)
    sec.page.wait_for_timeout(300)
    found, sec.errors[:] = list(sec.errors), []
    assert all("页面可见文字泄露内部信息" in error for error in found), found
    for kind, match in (("ASCII 标识", "monthly_ranking"), ("ISO 周", "2026-W48"), ("JSON", '{"light":'),
                        ("JSON", '["d1",')):
        assert any(f"（{kind}）：{match}" in error for error in found), (kind, found)
