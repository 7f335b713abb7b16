"""The admin calendar page in a real browser: an estimated 2027, the published schedule entered on
one page, the preview of the moved due time and its apply (fixtures: tests/conftest.py)."""
import datetime as dt

import pytest

from tests.helpers import ITEM


@pytest.fixture
def server(server_factory):
    return server_factory(clock={"start": "2027-02-04T10:00:00+08:00"})  # Thu before 除夕


def test_enter_the_2027_schedule_and_apply_it(server, people):
    item = server.login("sec").post("/api/v1/items", {**ITEM, "deadline": "2027-06-30"}).json()
    admin = people("admin")
    admin.goto("/admin/calendar?year=2027")
    assert admin.page.get_attribute("#year-status", "data-status") == "estimated"
    assert admin.page.inner_text("#estimated-badge") == "估算"
    admin.shot("admin-calendar-estimated")

    admin.page.fill("#holidays-input", "2027-01-01\n2027-02-05~2027-02-12")
    admin.page.fill("#working-days-input", "2027-02-20\n2027-02-22")  # a Monday: refused
    admin.page.click("#schedule-form button")
    assert "2027-02-22 是周一至周五" in admin.page.inner_text("#schedule-form")
    admin.page.fill("#working-days-input", "2027-02-20")
    admin.page.click("#schedule-form button")
    assert admin.page.get_attribute("#year-status", "data-status") == "entered"
    assert "2027-02-20（周六）" in admin.page.inner_text("#working-weekends")
    row = admin.page.locator("#moves tbody tr")
    assert row.count() == 1 and item["code"] in row.inner_text()
    assert "2027-02-12 18:00" in row.inner_text() and "2027-02-16 18:00" in row.inner_text()
    admin.shot("admin-calendar-preview")

    admin.page.click("#apply-form button")
    assert "调整 1 项" in admin.page.inner_text("body") and admin.page.locator("#changes-applied").count() == 1
    task = next(t for t in server.login("zhang").get("/api/v1/tasks", params={"item_id": item["id"]}).json()["items"]
                if t["key"] == "draft_plan")
    assert dt.datetime.fromisoformat(task["due_at"]) == dt.datetime.fromisoformat("2027-02-16T18:00:00+08:00")
