"""Confirmations (issue 17, item 5) in a real browser: what cannot be undone — 确认问责, advancing
the simulated clock, deploying a version, 不予处理 — asks first in words naming the consequence,
and dismissing the question submits nothing. Screenshots at desktop and phone width."""
import datetime as dt
import re

from tests.helpers import ITEM
from tests.web_browser import PHONE

PLAN_OVERDUE = "2026-11-25T18:00:01+08:00"  # the item is registered Mon 09:00; its plan fell due Wed 18:00
ACCOUNTABILITY = "确认对发展和改革委员会采取“提醒约谈”？此操作将写入问责记录，无法撤销。"


def dismissing(person):
    """Dismiss every dialog of ``person``'s page; returns the list of questions asked."""
    asked = []
    person.page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    return asked


def test_accountability_asks_first_and_a_dismissal_submits_nothing(server, people):
    server.login("sec").post("/api/v1/items", ITEM)
    server.engine.advance_clock(to=dt.datetime.fromisoformat(PLAN_OVERDUE))
    sup_api = server.login("sup")

    # the escalation's own task page asks the same, at phone width
    phone = people("sup2", PHONE)
    task = next(t for t in server.login("sup2").get("/api/v1/tasks").json()["items"]
                if t["key"] == "handle_escalation")
    phone.goto(f"/tasks/{task['id']}")
    asked_on_phone = dismissing(phone)
    phone.page.locator("[data-field-name=action] input[value=accountability], "
                       "[data-field-name=action] select").first.evaluate(
        "el => el.tagName === 'SELECT' ? (el.value = 'accountability') : (el.checked = true)")
    phone.page.click("#submit-task")
    assert len(asked_on_phone) == 1 and asked_on_phone[0].startswith("确认对发展和改革委员会采取“")
    assert asked_on_phone[0].endswith("此操作将写入问责记录，无法撤销。")
    phone.shot("confirm-accountability-task-phone")
    assert re.search(r"/tasks/" + task["id"] + "$", phone.page.url)
    assert server.login("sup2").get(f"/api/v1/tasks/{task['id']}").json()["state"] == "open"

    sup = people("sup")
    sup.goto("/escalations")
    card = sup.page.locator("section.escalation").first
    asked = dismissing(sup)
    card.locator("input[name=action][value=remind]").check()
    card.locator("input[name=action][value=accountability]").check()
    card.locator("button.handle").click()
    assert asked == [ACCOUNTABILITY]
    sup.shot("confirm-accountability-desktop")
    # dismissed: the same form is still there; the remind that follows is the only thing handled
    card.locator("input[name=action][value=remind]").check()
    with sup.page.expect_navigation():
        card.locator("button.handle").click()
    assert asked == [ACCOUNTABILITY]  # 提醒催办 needs no confirmation
    handled = sup_api.get("/api/v1/escalations", params={"state": "handled"}).json()["items"]
    assert len(handled) == 1
    assert sup_api.get("/api/v1/measures").json()["total"] == 0


def test_clock_deploy_and_dismissal_ask_first(server, people):
    admin = people("admin")
    admin.goto("/admin/clock")
    before = admin.page.inner_text("#clock-now")
    asked = dismissing(admin)
    admin.page.fill("input[name=amount]", "1")
    admin.page.select_option("select[name=unit]", "days")
    admin.page.click("#advance-form button")
    assert asked == ["确认推进模拟时钟？推进后，到期的催办、逾期升级和周期任务会立即触发，并写入办理记录；"
                     "时钟不能回拨，此操作无法撤销。"]
    admin.shot("confirm-clock-desktop")
    admin.goto("/admin/clock")
    assert admin.page.inner_text("#clock-now") == before

    designer = people("ada", PHONE)
    designer.goto("/designer/supervision/1/edit")
    designer.page.wait_for_selector("#canvas[data-ready=true]")
    asked = dismissing(designer)
    designer.page.click("#deploy")
    assert len(asked) == 1 and asked[0].startswith("确认部署流程「supervision」？部署将生成新的版本")
    designer.shot("confirm-deploy-phone")
    assert designer.page.inner_text("#status") == ""
    versions = server.login("ada").get("/api/v1/definitions/supervision").json()
    assert [v["version"] for v in versions["items"]] == [1]

    complaint = server.anonymous().post("/api/v1/complaints", {"text": "小区门口路灯不亮"}).json()
    sec = people("sec")
    sec.goto(f"/complaints/{complaint['id']}?as=dismiss")
    asked = dismissing(sec)
    sec.page.fill("#f-reason", "已由物业处理")
    sec.page.click("#submit-triage")
    assert len(asked) == 1 and asked[0].startswith("确认对该群众反映不予处理？")
    sec.shot("confirm-dismiss-desktop")
    sec.goto(f"/complaints/{complaint['id']}")
    assert "不予处理理由" not in sec.page.content()
    assert server.login("sec").get(f"/api/v1/complaints/{complaint['id']}").json()["state"] == "received"
