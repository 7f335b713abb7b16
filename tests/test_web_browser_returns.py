"""A return (退回) in a real browser: the leader sends the plan back with a reason, the staff's
inbox marks it 退回, its form comes back filled with last time's answers under the reason, and
the resubmission goes through. Screenshots at desktop and phone width land in test-artifacts/."""
import re

from tests.helpers import ITEM, PLAN
from tests.web_browser import PHONE


def test_a_returned_plan_is_marked_prefilled_and_resubmitted(server, people):
    sec, staff_api = server.login("sec"), server.login("zhang")
    item = sec.post("/api/v1/items", ITEM).json()
    draft = staff_api.get("/api/v1/tasks", params={"item_id": item["id"]}).json()["items"][0]
    assert staff_api.post(f"/api/v1/tasks/{draft['id']}/complete", {"data": PLAN}).status_code == 200

    leader = people("boss")
    leader.page.locator("#inbox a", has_text="审定工作计划").first.click()
    leader.page.wait_for_url(re.compile(r".*/tasks/"))
    leader.page.check("input[name=approved][value=false]")
    leader.page.fill("#f-comment", "措施不具体，请细化到周")
    leader.page.click("#submit-task")
    leader.page.wait_for_url(re.compile(r".*/inbox$"))

    for viewport, suffix in ((None, "desktop"), (PHONE, "phone")):
        staff = people("zhang", viewport)
        row = staff.page.locator("#inbox tr[data-returned]")
        assert row.count() == 1 and "制定工作计划" in row.inner_text()
        assert row.locator(".returned-mark").inner_text() == "退回"
        staff.shot(f"returned-inbox-{suffix}")
        row.locator("a", has_text="制定工作计划").click()
        staff.page.wait_for_url(re.compile(r".*/tasks/"))
        box = staff.page.locator("#returned").inner_text()
        assert "已退回：措施不具体，请细化到周" in box
        assert "分管领导赵 于 2026-11-23 09:00 在「审定工作计划」退回" in box
        assert staff.page.input_value("#f-owner") == "zhang"
        assert staff.page.input_value("[name='milestones.0.target']") == "方案落地"
        assert staff.page.input_value("#f-measures") == "专班推进"
        staff.shot(f"returned-task-{suffix}")

    staff.goto(f"/items/{item['id']}")  # the item's current step is marked too
    assert staff.page.locator(".returned-mark").inner_text() == "退回"
    staff.page.go_back()
    staff.page.fill("#f-measures", "专班推进，每周调度")
    staff.page.click("#submit-task")
    staff.page.wait_for_url(re.compile(r".*/inbox$"))
    assert "已办理：制定工作计划" in staff.page.locator(".flash").inner_text()
    assert staff.page.locator("#inbox tr[data-returned]").count() == 0
    staff.goto("/notifications")
    assert "已退回：DB-2026-0001「制定工作计划」" in staff.page.inner_text("#notifications")
    approve = server.login("boss").get("/api/v1/tasks", params={"item_id": item["id"]}).json()["items"]
    assert [t["key"] for t in approve] == ["approve_plan"]
    plan = sec.get(f"/api/v1/items/{item['id']}").json()["plan"]
    assert plan["measures"] == "专班推进，每周调度" and plan["milestones"] == PLAN["milestones"]
