"""Managing an item in a real browser (issue 17, item 7): 撤销 asks first in words naming the
consequence (dismissed: nothing changes), then cancels; the 督办通知单 prints with its 文号 and
the office's name; an edit of the notice is saved and shown in the timeline. Screenshots at desktop width."""
import pytest

from tests.helpers import ITEM

OFFICE = "市人民政府督查室"


@pytest.fixture
def server(server_factory):
    return server_factory(office={"name": OFFICE})


def test_cancel_asks_first_and_the_notice_prints(server, people):
    item = server.login("sec").post("/api/v1/items", ITEM).json()
    sec = people("sec")
    sec.goto(f"/items/{item['id']}")
    sec.page.fill("#amend-form input[name=deadline]", "2027-01-15")
    sec.page.once("dialog", lambda dialog: dialog.accept())
    with sec.page.expect_navigation():
        sec.page.click("#amend-form button")
    assert sec.page.inner_text(".flash") == "已修改办结时限。"
    assert "办结时限：2026-12-31 → 2027-01-15" in sec.page.inner_text(".timeline")

    asked = []
    sec.page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    sec.page.fill("#cancel-form textarea[name=reason]", "会议决定不再督办")
    sec.page.click("#cancel-form button")
    assert asked == [f"确认撤销事项 {item['code']}「{ITEM['title']}」？撤销后流程终止，各部门的待办全部取消，"
                     "事项不再列入办理中清单；此操作无法撤销。"]
    assert server.login("sec").get(f"/api/v1/items/{item['id']}").json()["status"] == "open"
    sec.shot("manage-item-desktop")

    sec.page.once("dialog", lambda dialog: dialog.accept())
    with sec.page.expect_navigation():
        sec.page.click("#cancel-form button")
    assert "已撤销事项" in sec.page.inner_text(".flash")
    assert "已撤销" in sec.page.inner_text(".summary")
    assert sec.page.locator("#manage").count() == 0  # a cancelled item is managed no more
    sec.shot("manage-item-cancelled-desktop")

    sec.page.click("#notice-print")
    number = int(item["code"].split("-")[-1])
    assert sec.page.inner_text("#doc-number") == f"督办〔2026〕{number}号"
    assert sec.page.inner_text("#item-notice h1").startswith(OFFICE)
    assert ITEM["title"] in sec.page.inner_text("#item-notice") and "2027-01-15" in sec.page.inner_text("#item-notice")
    assert sec.page.inner_text("#item-notice .doc-sign").startswith(OFFICE)
    sec.shot("item-notice-desktop")
