"""The pages of issue 17, item 6 (Flask's test client over the seeded server's app): the inbox's
filters, order and pages with the 剩余工作日 column, the 已办 list, 暂存 on a task's form, and
批量催办 / 批量处理 on the escalation desk — each bulk choice one completion per escalation, with a
count of what succeeded and why the rest did not; refusals change nothing."""
import re

import pytest
from sqlalchemy import select

from tests.conftest import BOTH_DATABASES
from tests.helpers import snapshot
from tests.test_web_desks import PLAN_OVERDUE, at, escalations
from tests.test_web_pages import Web, make_item, task_id
from workflows.supervision.models import Notification

LONG_TOKENS = {"auth": {"token_hours": 24 * 366}}


@pytest.fixture
def server(server_factory):
    return server_factory(**LONG_TOKENS)


def rows(html):
    return re.findall(r'<tr data-task-key="(\w+)" data-light="(\w+)"', html)


def test_inbox_filters_pages_done_and_drafts(server):
    first = make_item(server, title="推进一网通办", co_departments=[])
    second = make_item(server, title="整治背街小巷", co_departments=[])
    zhang = Web(server.app, "zhang")
    page = zhang.get("/inbox").text
    assert rows(page) == [("draft_plan", "green")] * 2 and "剩 2 个工作日" in page and "剩余工作日" in page
    found = zhang.get("/inbox", query_string={"q": "背街"}).text
    assert rows(found) == [("draft_plan", "green")] and second["code"] in found and first["code"] not in found
    assert 'id="clear-filters"' in found and 'value="背街"' in found
    assert rows(zhang.get("/inbox?light=red").text) == [] and "没有符合条件的待办事项" in zhang.get("/inbox?light=red").text
    assert len(rows(zhang.get("/inbox?key=draft_plan&process=supervision&department=d1&sort=created").text)) == 2
    # values the page never offered read as no filter, like a bad page number
    assert len(rows(zhang.get("/inbox?light=purple&key=nope&process=x&department=zz&sort=up&page=abc").text)) == 2
    assert rows(zhang.get("/inbox?page=2").text) == []

    # 暂存: kept for this person, shown again, not checked against the form
    task = task_id(server, "zhang", "draft_plan", first["id"])
    response = zhang.post(f"/tasks/{task}", {"_draft": "1", "measures": "分三步推进", "owner": ""},
                          token_from=f"/tasks/{task}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/tasks/{task}")
    again = zhang.get(f"/tasks/{task}").text
    assert "分三步推进</textarea>" in again and 'id="draft-note"' in again and "已暂存" in again
    assert 'id="save-draft"' in again
    assert "分三步推进" not in Web(server.app, "li").get(f"/tasks/{task}").text  # li's own form is empty
    wang = Web(server.app, "wang")
    before = snapshot(server.engine)
    assert wang.post(f"/tasks/{task}", {"_draft": "1", "measures": "x"}).status_code in (403, 404)
    assert snapshot(server.engine) == before

    # 已办 after completing it
    assert "暂无已办事项" in zhang.get("/done").text
    done = zhang.post(f"/tasks/{task}", {"owner": "zhang", "milestones.0.date": "2026-12-15",
                                        "milestones.0.target": "方案落地", "measures": "分三步推进",
                                        "expected_result": "办成"}, token_from=f"/tasks/{task}")
    assert done.status_code == 302, done.text
    listed = zhang.get("/done").text
    assert re.findall(r'<tr data-task-key="(\w+)">', listed) == ["draft_plan"] and first["code"] in listed
    assert f'href="/items/{first["id"]}"' in listed and 'aria-current="page"' in listed


@BOTH_DATABASES
def test_bulk_remind_and_handle_on_the_escalation_desk(server):
    items = [make_item(server, title=f"事项{n}", co_departments=[]) for n in range(3)]
    server.engine.advance_clock(to=at(PLAN_OVERDUE))
    first, second, third = escalations(server.engine, state="open")
    sup = Web(server.app, "sup")
    desk = sup.get("/escalations").text
    assert 'id="bulk-form"' in desk and desk.count('name="ids"') == 3 and 'data-confirm="确认对所选升级督办批量催办' in desk

    others = [Web(server.app, "zhang"), Web(server.app, "sec")]
    before = snapshot(server.engine)
    for form, words in (({"bulk": "remind"}, "请先勾选"),
                        ({"bulk": "handle", "action": "accountability", "ids": [str(first.id)]}, "内容有误"),
                        ({"bulk": "handle", "action": "remind", "ids": ["x"]}, "内容有误")):
        assert sup.post("/escalations/bulk", form).status_code == 302
        assert words in sup.get("/escalations").text, form
    refused = sup.post("/escalations/bulk", {"bulk": "handle", "action": "extend", "ids": [str(third.id)]})
    assert refused.status_code == 302
    assert "批量延期：成功 0 件，失败 1 件。失败原因：" in sup.get("/escalations").text
    for other in others:
        assert other.post("/escalations/bulk", {"bulk": "remind",
                                                                    "ids": [str(first.id)]}).status_code == 403
    assert snapshot(server.engine) == before

    sup.post("/escalations/bulk", {"bulk": "remind", "comment": "请今日报送", "ids": [str(first.id), str(second.id)]})
    assert "批量催办：成功 2 件，失败 0 件。" in sup.get("/escalations").text
    handled = {e.id: e for e in escalations(server.engine, state="handled")}
    assert {i: (e.action, e.comment) for i, e in handled.items()} == {
        first.id: ("remind", "请今日报送"), second.id: ("remind", "请今日报送")}
    with server.engine.db.read() as session:
        reminded = list(session.scalars(select(Notification).where(Notification.kind == "escalation_reminder")))
    assert {n.item_id for n in reminded} == {first.item_id, second.item_id}

    sup.post("/escalations/bulk", {"bulk": "handle", "action": "extend", "new_due": "2026-11-30T18:00",
                                   "comment": "给两个工作日", "ids": [str(first.id), str(third.id)]})
    page = sup.get("/escalations").text
    assert "批量延期：成功 1 件，失败 1 件。" in page and "已被他人处置或状态已变化" in page
    extended, = escalations(server.engine, id=third.id)
    assert (extended.state, extended.action, extended.new_due) == ("handled", "extend", at("2026-11-30T18:00:00+08:00"))
    assert {i["id"] for i in items} >= {first.item_id, second.item_id, third.item_id}
