"""The web pages of the deadline machinery (Flask's test client over the seeded server's app): the
escalation desk (督办升级台), extension requests (延期申请), claim / unclaim / assign and comments on
the task page, and notifications (通知) with the navigation's unread count. Every refusal — a
wrong role, bad data — is checked to change nothing."""
import datetime as dt
import re

import pytest
from sqlalchemy import delete, func, select

from engine.models import Instance
from tests.conftest import BOTH_DATABASES
from tests.helpers import PLAN, snapshot
from tests.test_web_pages import Web, make_item, task_id
from workflows.supervision.models import Escalation, Measure, Notification

LONG_TOKENS = {"auth": {"token_hours": 24 * 366}}
PLAN_OVERDUE = "2026-11-25T18:00:01+08:00"  # items registered Mon 09:00: the plan fell due Wed 18:00


@pytest.fixture
def server(server_factory):
    return server_factory(**LONG_TOKENS)


def at(moment):
    return dt.datetime.fromisoformat(moment)


def escalations(engine, **where):
    with engine.db.read() as session:
        query = select(Escalation).order_by(Escalation.id)
        for key, value in where.items():
            query = query.where(getattr(Escalation, key) == value)
        return list(session.scalars(query))


def field_error(html, field):
    return re.findall(rf'data-field="{field}">([^<]+)<', html)


# -- 督办升级台 ------------------------------------------------------------------------------------------
@BOTH_DATABASES
def test_escalation_desk_lists_and_handles_each_action(server):
    items = [make_item(server, title=f"事项{n}", co_departments=[]) for n in range(4)]
    server.engine.advance_clock(to=at(PLAN_OVERDUE))
    opened = escalations(server.engine, state="open")  # the timers fired in some order: levels 1..4
    assert sorted((e.level, e.proposed_measure) for e in opened) == [
        (1, "提醒约谈"), (2, "通报批评"), (3, "考核扣分"), (4, "问责建议")]
    assert {e.item_id for e in opened} == {i["id"] for i in items}
    remind, extend, reassign, account = sorted(opened, key=lambda e: e.level)
    by_id = {i["id"]: {**i, "title": f"事项{n}"} for n, i in enumerate(items)}

    sup = Web(server.app, "sup")
    page = sup.get("/escalations").text
    assert "尚未接入" not in page and "data-pending" not in page
    assert 'id="open-count">待处置 4 件' in page
    cards = re.findall(r'data-escalation="(\d+)"', page)
    assert cards == [str(e.id) for e in opened]  # oldest overdue first (same moment: by id)
    start = page.index(f'id="escalation-{remind.id}"')
    first = page[start:page.index('</section>', start)]
    for text in (by_id[remind.item_id]["code"], by_id[remind.item_id]["title"], "发展和改革委员会", "制定工作计划",
                 "2026-11-25 18:00 起",
                 "本年度第 1 次逾期", "<strong>提醒约谈</strong>", "确认问责：提醒约谈"):
        assert text in first, text
    assert "发改委李四（li）" in first and "住建局王五" not in first  # reassign: the step's department

    # wrong roles: the page and the action are the supervisors' (and admins')
    for username in ("zhang", "boss", "sec"):
        other = Web(server.app, username)
        assert other.get("/escalations").status_code == 403
        before = snapshot(server.engine)
        assert other.post(f"/escalations/{remind.id}", {"action": "remind"}).status_code == 403
        assert snapshot(server.engine) == before
    assert "督查台" not in Web(server.app, "zhang").get("/inbox").text
    assert sup.client.post(f"/escalations/{remind.id}", data={"action": "remind"}).status_code == 400  # CSRF
    assert sup.post("/escalations/999999", {"action": "remind"}).status_code == 404

    # bad data: shown next to the field, answers kept, nothing changed
    before = snapshot(server.engine)
    refusals = [
        ({}, "action", "请选择处置方式"),
        ({"action": "extend", "comment": "给两天"}, "new_due", "此项为必填"),
        ({"action": "extend", "new_due": "2026-11-20T18:00"}, "new_due", "新的办理期限须晚于当前时间"),
        ({"action": "extend", "new_due": "明天"}, "new_due", "请输入有效的日期时间"),
        ({"action": "reassign"}, "username", "此项为必填"),
        ({"action": "reassign", "username": "wang"}, "username", "该用户不属于承办部门"),
        ({"action": "reassign", "username": "ghost"}, "username", "该用户不存在或已停用"),
        ({"action": "bogus"}, "action", "请选择处置方式"),
    ]
    for form, field, message in refusals:
        response = sup.post(f"/escalations/{extend.id}", form)
        assert response.status_code == 200, form
        assert field_error(response.text, field) == [message], (form, field_error(response.text, field))
        card = response.text[response.text.index(f'id="escalation-{extend.id}"'):]
        if form.get("comment"):
            assert "给两天</textarea>" in card
        if form.get("action") in ("extend", "reassign"):
            assert f'value="{form["action"]}" checked' in card
    assert snapshot(server.engine) == before

    # each action completes handle_escalation through the engine
    assert sup.post(f"/escalations/{remind.id}", {"action": "remind", "comment": "请今日报送"}).status_code == 302
    assert sup.post(f"/escalations/{extend.id}", {"action": "extend", "new_due": "2026-11-27T18:00"}).status_code == 302
    assert sup.post(f"/escalations/{reassign.id}", {"action": "reassign", "username": "li"}).status_code == 302
    response = sup.post(f"/escalations/{account.id}", {"action": "accountability"})
    assert response.status_code == 302 and response.headers["Location"] == "/escalations"
    flashed = sup.get("/escalations").text
    assert "暂无待处置的升级督办" in flashed and 'id="open-count">待处置 0 件' in flashed

    handled = {e.id: e for e in escalations(server.engine, state="handled")}
    assert {i: (e.action, e.handled_by) for i, e in handled.items()} == {
        remind.id: ("remind", "sup"), extend.id: ("extend", "sup"), reassign.id: ("reassign", "sup"),
        account.id: ("accountability", "sup")}
    assert handled[remind.id].comment == "请今日报送"
    assert handled[extend.id].new_due == at("2026-11-27T18:00:00+08:00")
    assert handled[reassign.id].reassigned_to == "li"
    zhang = server.login("zhang")
    steps = {t["item_id"]: t for t in server.login("li").get("/api/v1/tasks").json()["items"] if t["key"] == "draft_plan"}
    assert steps[extend.item_id]["due_at"] == "2026-11-27T10:00:00+00:00"
    assert steps[reassign.item_id]["assignee"] == "li"
    assert reassign.item_id not in {t["item_id"] for t in zhang.get("/api/v1/tasks").json()["items"]}
    with server.engine.db.read() as session:
        assert [(m.escalation_id, m.measure) for m in session.scalars(select(Measure))] == [(account.id, "问责建议")]

    page = sup.get("/escalations?state=handled").text
    rows = re.findall(r'<tr data-escalation="(\d+)" data-action="(\w+)">', page)
    assert rows == [(str(e.id), e.action) for e in sorted(handled.values(), key=lambda e: e.id)]
    for text in ("提醒催办", "“请今日报送”", "延期至 2026-11-27 18:00", "改派给 发改委李四", "确认问责：问责建议", "督查员孙"):
        assert text in page, text

    # a second submission finds it handled, and changes nothing
    before = snapshot(server.engine)
    again = sup.post(f"/escalations/{remind.id}", {"action": "remind"})
    assert again.status_code == 302 and "state=handled" in again.headers["Location"]
    assert snapshot(server.engine) == before
    # the item's page lists its escalation
    assert 'id="item-escalations"' in Web(server.app, "sec").get(f"/items/{items[0]['id']}").text


def test_escalation_desk_after_the_step_was_done(server):
    """The step was completed late: extend and reassign no longer apply, remind and the measure do."""
    item = make_item(server, co_departments=[])
    server.engine.advance_clock(to=at(PLAN_OVERDUE))
    assert server.login("zhang").post(f"/api/v1/tasks/{task_id(server, 'zhang', 'draft_plan', item['id'])}/complete",
                                      {"data": PLAN}).status_code == 200
    [escalation] = escalations(server.engine)
    sup = Web(server.app, "sup")
    page = sup.get("/escalations").text
    assert re.search(r'value="extend"\s+disabled', page) and re.search(r'value="reassign"\s+disabled', page)
    assert "已办理" in page
    before = snapshot(server.engine)
    refused = sup.post(f"/escalations/{escalation.id}", {"action": "extend", "new_due": "2026-12-01T18:00"})
    assert field_error(refused.text, "action") == ["逾期环节已办理完毕，只能提醒催办或确认问责"]
    assert snapshot(server.engine) == before
    assert sup.post(f"/escalations/{escalation.id}", {"action": "accountability"}).status_code == 302
    assert escalations(server.engine)[0].state == "handled"


# -- 延期申请 --------------------------------------------------------------------------------------------
def extension_instances(engine):
    with engine.db.read() as session:
        return session.scalar(select(func.count()).select_from(Instance).where(Instance.definition_key == "extension"))


def test_extension_request_through_the_pages(server):
    item = make_item(server)
    draft = task_id(server, "zhang", "draft_plan", item["id"])
    zhang, wang, sec = Web(server.app, "zhang"), Web(server.app, "wang"), Web(server.app, "sec")
    task_page = zhang.get(f"/tasks/{draft}").text
    link = re.search(r'id="extension-link" href="([^"]+)"', task_page).group(1)
    assert link == f"/items/{item['id']}/extension?task_id={draft}"
    assert 'id="extension-link"' in zhang.get(f"/items/{item['id']}").text
    assert 'id="extension-link"' not in wang.get(f"/items/{item['id']}").text  # a co-department
    page = zhang.get(link).text
    assert f'<option value="{draft}" selected>制定工作计划（办理期限 2026-11-25 18:00）' in page

    form = {"task_id": draft, "reason": "需协调市级部门", "new_due": "2026-11-30T18:00", "progress": "30"}
    for who, response in (("wang", wang.post(f"/items/{item['id']}/extension", form)),
                          ("sec", sec.post(f"/items/{item['id']}/extension", form))):
        assert response.status_code == 200 and "的承办人员可以申请延期" in response.text, who
    outsider = Web(server.app, "boss2")
    assert outsider.get(f"/items/{item['id']}/extension").status_code == 403
    assert outsider.post(f"/items/{item['id']}/extension", form).status_code == 403
    bad = zhang.post(f"/items/{item['id']}/extension", {**form, "reason": "", "progress": "101",
                                                         "new_due": "2026-11-24T18:00"})
    assert field_error(bad.text, "reason") == ["此项为必填"] and field_error(bad.text, "progress") == ["不能大于 100"]
    earlier = zhang.post(f"/items/{item['id']}/extension", {**form, "new_due": "2026-11-24T18:00"})
    assert field_error(earlier.text, "new_due") == ["须晚于该环节当前的办理期限（2026-11-25 18:00）"]
    assert 'value="需协调市级部门"' in earlier.text or "需协调市级部门</textarea>" in earlier.text
    assert extension_instances(server.engine) == 0

    done = zhang.post(f"/items/{item['id']}/extension", form)
    assert done.status_code == 302 and done.headers["Location"] == f"/items/{item['id']}"
    assert extension_instances(server.engine) == 1
    twice = zhang.post(f"/items/{item['id']}/extension", form)
    assert field_error(twice.text, "task_id") == ["「制定工作计划」已有延期申请在等待分管领导审批。"]
    assert extension_instances(server.engine) == 1

    # the leader's approval is an ordinary task of their inbox, on the generic task page
    boss = Web(server.app, "boss")
    assert "审批延期申请" in boss.get("/inbox").text
    approve = task_id(server, "boss", "approve_extension", item["id"])
    page = boss.get(f"/tasks/{approve}").text
    for text in ("延期申请", "发改委张三", "制定工作计划", "2026-11-25 18:00", "2026-11-30 18:00", "30%", "需协调市级部门"):
        assert text in page, text
    assert field_error(boss.post(f"/tasks/{approve}", {"approved": "false"}).text, "comment") == ["此项为必填"]
    assert boss.post(f"/tasks/{approve}", {"approved": "true", "comment": "同意"}).status_code == 302
    assert server.login("zhang").get(f"/api/v1/tasks/{draft}").json()["due_at"] == "2026-11-30T10:00:00+00:00"


def test_extension_after_the_due_time_is_refused_with_a_clear_message(server):
    item = make_item(server, co_departments=[])
    draft = task_id(server, "zhang", "draft_plan", item["id"])
    server.engine.advance_clock(to=at("2026-11-26T09:00:00+08:00"))
    zhang = Web(server.app, "zhang")
    page = zhang.get(f"/items/{item['id']}/extension?task_id={draft}").text
    assert "（办理期限 2026-11-25 18:00，已逾期）" in page
    refused = zhang.post(f"/items/{item['id']}/extension", {
        "task_id": draft, "reason": "来不及", "new_due": "2026-11-30T18:00", "progress": "10"})
    assert refused.status_code == 200
    assert field_error(refused.text, "task_id") == [
        "「制定工作计划」已于 2026-11-25 18:00 到期：延期须在到期前申请；逾期环节由督查员督办处置。"]
    assert extension_instances(server.engine) == 0


# -- claim, unclaim, assign, comments ----------------------------------------------------------------
def assignee(server, task):
    return server.engine.tasks.get(task).assignee


def test_claim_unclaim_assign_and_comments_on_the_task_page(server):
    item = make_item(server)
    draft = task_id(server, "zhang", "draft_plan", item["id"])
    zhang, li, sup, boss2 = (Web(server.app, u) for u in ("zhang", "li", "sup", "boss2"))
    page = zhang.get(f"/tasks/{draft}").text
    assert 'id="claim"' in page and 'id="assign-form"' not in page and 'id="unclaim"' not in page
    assert zhang.post(f"/tasks/{draft}/claim").status_code == 302
    assert assignee(server, draft) == "zhang"
    page = zhang.get(f"/tasks/{draft}").text
    assert "办理人：发改委张三" in page and 'id="unclaim"' in page and 'id="claim"' not in page
    assert "此任务由 zhang 办理" in li.get(f"/tasks/{draft}").text  # li may look, not work it
    before = snapshot(server.engine)
    assert li.post(f"/tasks/{draft}/claim").status_code == 403
    assert li.post(f"/tasks/{draft}/unclaim").status_code == 403
    assert li.post(f"/tasks/{draft}/assign", {"username": "li"}).status_code == 403
    assert boss2.post(f"/tasks/{draft}/assign", {"username": "li"}).status_code == 403
    assert snapshot(server.engine) == before
    assert zhang.post(f"/tasks/{draft}/unclaim").status_code == 302 and assignee(server, draft) is None

    # assign: supervisors, admins and the item's leader (workflows.access.may_override_task)
    page = sup.get(f"/tasks/{draft}").text
    assert 'id="assign-form"' in page
    options = re.findall(r'<option value="(\w+)"', page[page.index('id="assign-username"'):])
    assert options == ["li", "zhang"]  # the staff of the step's department
    before = snapshot(server.engine)
    for username, message in (("", "请选择指派给谁"), ("ghost", "该用户不存在或已停用")):
        refused = sup.post(f"/tasks/{draft}/assign", {"username": username})
        assert refused.status_code == 200 and field_error(refused.text, "username") == [message]
    assert snapshot(server.engine) == before
    assert sup.post(f"/tasks/{draft}/assign", {"username": "li"}).status_code == 302
    assert assignee(server, draft) == "li"
    boss = Web(server.app, "boss")
    assert 'id="unclaim"' in boss.get(f"/tasks/{draft}").text  # the item's leader may take it back
    assert boss.post(f"/tasks/{draft}/assign", {"username": "zhang"}).status_code == 302
    assert assignee(server, draft) == "zhang"
    assert boss.post(f"/tasks/{draft}/unclaim").status_code == 302 and assignee(server, draft) is None

    # comments, from anyone who may see the task
    before = snapshot(server.engine)
    empty = li.post(f"/tasks/{draft}/comments", {"body": "   "})
    assert empty.status_code == 200 and field_error(empty.text, "body") == ["请填写留言内容"]
    too_long = li.post(f"/tasks/{draft}/comments", {"body": "字" * 5001})
    assert field_error(too_long.text, "body") == ["留言不能超过 5000 个字"]
    assert boss2.post(f"/tasks/{draft}/comments", {"body": "x"}).status_code == 403
    assert snapshot(server.engine) == before
    assert li.post(f"/tasks/{draft}/comments", {"body": "方案初稿已上传"}).status_code == 302
    assert Web(server.app, "wang").post(f"/tasks/{draft}/comments", {"body": "住建局配合"}).status_code == 302
    page = zhang.get(f"/tasks/{draft}").text
    assert page.index("方案初稿已上传") < page.index("住建局配合") and "发改委李四" in page
    listed = server.login("zhang").get(f"/api/v1/tasks/{draft}/comments").json()["items"]
    assert [(c["author"], c["body"]) for c in listed] == [("li", "方案初稿已上传"), ("wang", "住建局配合")]
    assert "留言" in Web(server.app, "sec").get(f"/items/{item['id']}").text


# -- 通知 --------------------------------------------------------------------------------------------
def test_notifications_page_badge_and_marking_read(server):
    make_item(server, co_departments=[])
    make_item(server, title="第二件", co_departments=[])
    with server.engine.db.write() as session:  # the page with the reminders alone: no handoff notices
        session.execute(delete(Notification).where(Notification.kind == "task_opened"))
    server.engine.advance_clock(to=at("2026-11-25T09:00:01+08:00"))  # the plans' reminders (催办)
    zhang = Web(server.app, "zhang")
    inbox = zhang.get("/inbox").text
    assert re.search(r'>通知<span class="nav-count" data-count="2"', inbox)
    page = zhang.get("/notifications").text
    assert 'id="unread-count">未读 2 条' in page and page.count("未读</span>") == 2
    ids = re.findall(r'data-notification="(\d+)"', page)
    assert len(ids) == 2 and int(ids[0]) > int(ids[1])  # newest first
    assert "催办" in page and "今日到期" in page

    assert Web(server.app, "wang").post(f"/notifications/{ids[0]}/read").status_code == 404  # not theirs
    assert zhang.post(f"/notifications/{ids[0]}/read").status_code == 302
    page = zhang.get("/notifications").text
    assert 'id="unread-count">未读 1 条' in page and 'data-count="1"' in page
    assert re.findall(r'data-notification="(\d+)"', zhang.get("/notifications?show=unread").text) == [ids[1]]
    assert re.findall(r'data-notification="(\d+)"', zhang.get("/notifications?show=read").text) == [ids[0]]
    assert zhang.post("/notifications/read-all").status_code == 302
    page = zhang.get("/notifications").text
    assert "nav-count" not in page and 'id="unread-count">未读 0 条' in page
    with server.engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Notification).where(
            Notification.username == "zhang", Notification.read_at.is_(None))) == 0
        assert session.scalar(select(func.count()).select_from(Notification).where(
            Notification.username == "li", Notification.read_at.is_(None))) == 2  # li's are li's
    assert Web(server.app).get("/notifications").status_code == 302  # log in first
