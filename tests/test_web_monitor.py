"""运行监控 (the admin cockpit), 流程实例 and 流程迁移 through the pages (Flask's test client):
counts by definition, version and status; incidents retried or cancelled with a reason; timer
incidents retried; the next waiting timers; open tasks per department; suspend and resume;
the migration dry run and the move. Wrong roles get 403 and refusals change nothing."""
import datetime as dt
import re

from sqlalchemy import select

from engine.models import Timer
from tests.bpmn_snippets import chain, script, timer_wait, user_task
from tests.conftest import BOTH_DATABASES, SECRETARY
from tests.helpers import PLAN, snapshot
from tests.test_web_pages import Web, make_item, task_id


def field_error(html, field):
    return re.findall(rf'data-field="{field}">([^<]+)<', html)


def row_of(html, attribute, value):
    start = html.index(f'{attribute}="{value}"')
    return html[start:html.index("</tr>", start)]


@BOTH_DATABASES
def test_cockpit_counts_incidents_timers_and_department_tasks(server):
    item = make_item(server, co_departments=[])
    make_item(server, department="d2", co_departments=[])
    server.engine.deploy(chain("broken", script(1, "x = 1 / 0")))
    broken = server.engine.instances.start("broken", {}, SECRETARY)
    other = server.engine.instances.start("broken", {}, SECRETARY)
    assert broken.status == "error"
    server.engine.deploy(chain("waiter", timer_wait(1, '"2027-01-04T09:00:00+08:00"'), user_task(2)))
    waiter = server.engine.instances.start("waiter", {}, SECRETARY)
    with server.engine.db.write() as session:  # a timer that gave up after its retries
        timer = session.scalar(select(Timer).where(Timer.instance_id == waiter.id))
        timer.state, timer.attempts, timer.last_error = "incident", 4, "RuntimeError: mail server down"
        timer_id = timer.id

    admin = Web(server.app, "admin")
    page = admin.get("/admin/monitor").text
    pending = page[page.index('id="pending-timers"'):]
    assert re.findall(r"<td data-label=\"定时器\">(\w+)</td>", pending) == [
        "remind_plan", "remind_plan", "escalate_plan", "escalate_plan"]  # oldest due first
    assert "2026-11-25 09:00" in pending and item["code"] in pending

    server.engine.advance_clock(to=dt.datetime.fromisoformat("2026-11-26T09:00:00+08:00"))  # plans overdue
    page = admin.get("/admin/monitor").text
    assert "运行监控" in re.search(r'<nav class="nav".*?</nav>', page, re.S).group(0)
    counts = row_of(page, 'data-definition="supervision" data-version', "1")
    assert re.search(r'data-status="running"><a [^>]*>2</a>', counts)
    assert re.search(r'data-status="error"><a [^>]*>2</a>', row_of(page, 'data-definition="broken" data-version', "1"))
    assert re.search(r'data-status="error"><b>2</b>出错', page)
    incident = row_of(page, "data-instance", broken.id)
    assert "broken v1" in incident and "n1" in incident and "ZeroDivisionError" in incident
    assert f'data-confirm="确认撤销流程实例 {broken.id[:8]}（broken 版本 1）？撤销后实例终止' in incident  # web.js asks
    timer_row = row_of(page, "data-timer", timer_id)
    assert "n1" in timer_row and "waiter" in timer_row and "RuntimeError: mail server down" in timer_row
    assert "2027-01-04 09:00" in timer_row
    assert "没有等待中的定时器" in page  # every reminder and escalation fired
    d1 = row_of(page, "data-department", "d1")
    assert re.search(r'data-field="open">1<', d1) and re.search(r'data-field="overdue">1<', d1)
    roles = row_of(page, "data-department", "")
    assert re.search(r'data-field="open">2<', roles)  # the two escalations, for the supervisors
    # wrong roles
    for username in ("sup", "sec", "ada", "zhang"):
        web = Web(server.app, username)
        assert web.get("/admin/monitor").status_code == 403
        assert web.get("/admin/instances").status_code == 403
        before = snapshot(server.engine)
        for path, form in ((f"/admin/instances/{broken.id}/retry", {}),
                           (f"/admin/instances/{broken.id}/cancel", {"reason": "x"}),
                           (f"/admin/instances/{item['instance_id']}/suspend", {"reason": "x"}),
                           (f"/admin/timers/{timer_id}/retry", {})):
            assert web.post(path, form).status_code == 403, (username, path)
        assert snapshot(server.engine) == before

    # a retry that fails again leaves the instance in error, with the new reason
    assert admin.post(f"/admin/instances/{broken.id}/retry", {"back": "monitor"}).status_code == 302
    assert server.engine.instances.get(broken.id).status == "error"
    # cancel needs a reason: shown next to that row's field, nothing changed
    before = snapshot(server.engine)
    refused = admin.post(f"/admin/instances/{broken.id}/cancel", {"reason": " ", "back": "monitor"})
    assert refused.status_code == 200
    assert field_error(row_of(refused.text, "data-instance", broken.id), "reason") == ["请填写原因"]
    assert field_error(row_of(refused.text, "data-instance", other.id), "reason") == []
    assert snapshot(server.engine) == before
    assert admin.post(f"/admin/instances/{broken.id}/cancel", {"reason": "脚本错误，作废", "back": "monitor"}).status_code == 302
    assert server.engine.instances.get(broken.id).status == "cancelled"
    assert admin.post(f"/admin/instances/{broken.id}/retry", {}).status_code == 302  # no longer in error: told so
    assert "操作未执行" in admin.get("/admin/monitor").text
    assert admin.post("/admin/instances/nope/retry", {}).status_code == 404

    assert admin.post(f"/admin/timers/{timer_id}/retry", {"back": "monitor"}).status_code == 302
    with server.engine.db.read() as session:
        assert (session.get(Timer, timer_id).state, session.get(Timer, timer_id).attempts) == ("waiting", 0)
    assert admin.post(f"/admin/timers/{timer_id}/retry", {}).status_code == 302  # not an incident any more
    assert admin.post("/admin/timers/nope/retry", {}).status_code == 404
    page = admin.get("/admin/monitor").text
    assert 'id="no-timer-incidents"' in page and broken.id not in page.split('id="incidents"')[1].split("</section>")[0]


def test_suspend_and_resume_from_the_instances_page(server):
    item = make_item(server, co_departments=[])
    admin = Web(server.app, "admin")
    page = admin.get(f"/admin/instances?code={item['code']}").text
    assert re.findall(r'<tr data-instance="([^"]+)"', page) == [item["instance_id"]]
    assert item["code"] in page
    assert len(re.findall(r'<tr data-instance=', admin.get("/admin/instances?definition=supervision&status=running").text)) == 1
    assert re.findall(r'<tr data-instance=', admin.get("/admin/instances?status=suspended").text) == []

    before = snapshot(server.engine)
    refused = admin.post(f"/admin/instances/{item['instance_id']}/suspend",
                         {"reason": "", "back": "instances", "f_code": item["code"]})
    assert refused.status_code == 200 and field_error(refused.text, "reason") == ["请填写原因"]
    assert re.findall(r'<tr data-instance="([^"]+)"', refused.text) == [item["instance_id"]]  # filters kept
    assert snapshot(server.engine) == before
    done = admin.post(f"/admin/instances/{item['instance_id']}/suspend",
                      {"reason": "核查数据", "back": "instances", "f_code": item["code"]})
    assert done.status_code == 302 and done.headers["Location"] == f"/admin/instances?code={item['code']}"
    assert server.engine.instances.get(item["instance_id"]).status == "suspended"

    # suspended: its task cannot be completed
    zhang = Web(server.app, "zhang")
    draft = task_id(server, "zhang", "draft_plan", item["id"])
    assert server.login("zhang").post(f"/api/v1/tasks/{draft}/complete", {"data": PLAN}).status_code == 409
    assert "已暂停的实例" in admin.get("/admin/monitor").text
    assert admin.post(f"/admin/instances/{item['instance_id']}/resume", {"back": "monitor"}).status_code == 302
    assert server.engine.instances.get(item["instance_id"]).status == "running"
    assert zhang.get(f"/tasks/{draft}").status_code == 200


def test_migration_dry_run_then_move(server):
    engine = server.engine
    engine.deploy(chain("p", user_task(1, "甲"), user_task(2, "乙")))
    at_first = engine.instances.start("p", {}, SECRETARY)
    at_second = engine.instances.start("p", {}, SECRETARY)
    [task] = engine.tasks.inbox(SECRETARY, instance_id=at_second.id)[0]
    engine.tasks.complete(task.id, {}, SECRETARY)
    engine.deploy(chain("p", user_task(1, "甲")))  # v2 drops step n2 (乙)

    for username in ("zhang", "sec", "sup"):
        web = Web(server.app, username)
        assert web.get("/admin/migration").status_code == 403
        assert web.post("/admin/migration", {"key": "p", "from_version": "1", "to_version": "2"}).status_code == 403
    ada = Web(server.app, "ada")
    page = ada.get("/admin/migration?key=p").text
    assert re.search(r'<tr data-version="1"><td>版本 1</td>\s*<td class="num" data-status="running">2<', page)
    assert "dry-run-results" not in page
    same = ada.get("/admin/migration?key=p&from_version=1&to_version=1")
    assert same.status_code == 200 and field_error(same.text, "to_version") == ["目标版本与原版本相同"]
    assert field_error(ada.get("/admin/migration?key=p&from_version=1&to_version=9").text, "to_version") == ["没有这个版本"]

    before = snapshot(engine)
    dry = ada.get("/admin/migration?key=p&from_version=1&to_version=2").text
    assert snapshot(engine) == before  # a dry run moves nothing
    assert 'id="movable-count">可迁移 1 个' in dry and "不能迁移 1 个" in dry
    assert 'data-can-move="true"' in row_of(dry, "data-instance", at_first.id)
    blocked = row_of(dry, "data-instance", at_second.id)
    assert 'data-can-move="false"' in blocked and "版本 2 中没有这些环节：n2" in blocked
    # designers run the dry run; moving live instances is for admins (issue 13)
    assert 'id="migrate-form"' not in dry and "须由系统管理员执行" in dry
    assert ada.post("/admin/migration", {"key": "p", "from_version": "1", "to_version": "2"}).status_code == 403
    assert engine.instances.get(at_first.id).definition_version == 1

    admin = Web(server.app, "admin")
    assert 'id="migrate-form"' in admin.get("/admin/migration?key=p&from_version=1&to_version=2").text
    assert admin.client.post("/admin/migration", data={"key": "p", "from_version": "1", "to_version": "2"}).status_code == 400
    moved = admin.post("/admin/migration", {"key": "p", "from_version": "1", "to_version": "2"})
    assert moved.status_code == 302
    assert engine.instances.get(at_first.id).definition_version == 2
    assert engine.instances.get(at_second.id).definition_version == 1
    after = admin.get(moved.headers["Location"]).text
    assert "已迁移 1 个实例到版本 2；1 个未能迁移" in after and 'id="movable-count">可迁移 0 个' in after
