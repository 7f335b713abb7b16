"""The inbox at scale in a real browser, desktop and phone: filters that submit, the 剩余工作日
column, the 已办 tab, 暂存 on a task's form; screenshots in test-artifacts/; the leak guard of
tests/web_browser.py runs on every page."""
import re

from tests.helpers import ITEM, PLAN
from tests.web_browser import DESKTOP, PHONE


def test_inbox_filters_done_and_draft_on_desktop_and_phone(server, people):
    sec, zhang = server.login("sec"), server.login("zhang")
    items = [sec.post("/api/v1/items", {**ITEM, "title": title, "co_departments": []}).json()
             for title in ("推进政务服务一网通办", "整治背街小巷", "优化营商环境")]
    done = next(t for t in zhang.get("/api/v1/tasks", params={"item_id": items[2]["id"]}).json()["items"])
    assert zhang.post(f"/api/v1/tasks/{done['id']}/complete", {"data": PLAN}).status_code == 200

    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        person = people("zhang", viewport=viewport)
        page = person.page
        assert page.locator("#inbox tbody tr").count() == 2
        assert page.locator("#inbox td.days-left").first.inner_text() == "剩 2 个工作日"
        page.fill("input[name=q]", "背街")
        page.select_option("select[name=light]", "green")
        page.locator("#inbox-filters button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/inbox\?.*q=.*"))
        assert page.locator("#inbox tbody tr").count() == 1
        assert items[1]["code"] in page.locator("#inbox").inner_text()
        person.shot(f"inbox-filtered-{name}")
        if viewport is PHONE:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        page.locator("#tab-done").click()
        page.wait_for_url(re.compile(r".*/done$"))
        assert page.locator("#done tbody tr").count() == 1
        assert items[2]["code"] in page.locator("#done").inner_text()
        person.shot(f"inbox-done-{name}")
        if viewport is PHONE:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # 暂存 on the form: saved, shown again on the next visit
    person = people("zhang")
    task = next(t for t in zhang.get("/api/v1/tasks", params={"item_id": items[0]["id"]}).json()["items"])
    person.goto(f"/tasks/{task['id']}")
    person.page.fill("textarea[name=measures]", "先摸底，再分三步推进")
    person.page.click("#save-draft")
    person.page.wait_for_selector("#draft-note")
    assert person.page.input_value("textarea[name=measures]") == "先摸底，再分三步推进"
    person.shot("task-draft-saved")


def test_bulk_remind_on_the_escalation_desk_asks_first(server, people):
    import datetime as dt

    from tests.test_web_desks import PLAN_OVERDUE

    sec = server.login("sec")
    for title in ("推进政务服务一网通办", "整治背街小巷", "优化营商环境"):
        sec.post("/api/v1/items", {**ITEM, "title": title, "co_departments": []})
    server.engine.advance_clock(to=dt.datetime.fromisoformat(PLAN_OVERDUE))
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        person = people("sup", viewport=viewport)
        person.goto("/escalations")
        asked = []
        person.page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        boxes = person.page.locator("input[name=ids]")
        boxes.nth(0).check()
        person.page.click("#bulk-remind")
        assert asked and "批量催办" in asked[0]  # dismissed: nothing sent
        assert person.page.locator(".escalation").count() == (3 if name == "desktop" else 2)
        person.shot(f"escalations-bulk-{name}")
        person.page.once("dialog", lambda dialog: dialog.accept())
        person.page.click("#bulk-remind")
        person.page.wait_for_selector("text=批量催办：成功 1 件，失败 0 件。")
        if viewport is PHONE:
            assert person.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
