"""The inbox at scale (issue 17, item 6) over HTTP: filters, sort and paging, working days left,
已办, 暂存 (drafts), the overseers' own due times, and bad input that changes nothing."""
import pytest
from sqlalchemy import func, select

from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM, PLAN
from tests.test_api_loop import complete, inbox_task
from workflows.drafts import TaskDraft

LONG_TOKENS = {"auth": {"token_hours": 24 * 366}}


@pytest.fixture
def server(server_factory):
    return server_factory(**LONG_TOKENS)


def advance(server, **body):
    response = server.login("admin").post("/api/v1/clock/advance", body)
    assert response.status_code == 200, response.text


def listed(client, **params):
    response = client.get("/api/v1/tasks", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def refused(client, **params):
    response = client.get("/api/v1/tasks", params=params)
    assert response.status_code == 400, response.text
    return response.json()["error"]


def new_items(server, titles):
    sec, items = server.login("sec"), []
    for title in titles:
        response = sec.post("/api/v1/items", {**ITEM, "title": title, "co_departments": []})
        assert response.status_code == 201, response.text
        items.append(response.json())
        advance(server, seconds=60)  # distinct arrival times for the 最新到达 order
    return items


@BOTH_DATABASES
def test_filters_sort_paging_and_working_days_left(server):
    items = new_items(server, ["推进一网通办", "优化营商环境", "整治背街小巷"])
    zhang = server.login("zhang")
    everything = listed(zhang)
    assert everything["total"] == 3 and everything["overdue"] == 0
    # registered Monday 09:0x: the plan is due Wednesday 18:00, two working days on
    assert {(t["key"], t["light"], t["working_days_left"]) for t in everything["items"]} == {("draft_plan", "green", 2)}

    assert [t["item_id"] for t in listed(zhang, q=items[1]["code"])["items"]] == [items[1]["id"]]
    assert [t["item_id"] for t in listed(zhang, q="背街")["items"]] == [items[2]["id"]]
    assert listed(zhang, q="制定工作")["total"] == 3  # the step's own title
    assert listed(zhang, q="%")["total"] == 0  # a wildcard is a character like any other
    assert listed(zhang, key="draft_plan")["total"] == 3 and listed(zhang, key="approve_plan")["total"] == 0
    assert listed(zhang, process="supervision")["total"] == 3 and listed(zhang, process="rectification")["total"] == 0
    assert listed(zhang, department="d1")["total"] == 3 and listed(zhang, department="d2")["total"] == 0
    assert listed(zhang, light="green")["total"] == 3 and listed(zhang, light="red")["total"] == 0

    newest = listed(zhang, sort="created")["items"]
    assert [t["item_id"] for t in newest] == [i["id"] for i in reversed(items)]
    page = listed(zhang, sort="created", limit=2, page=2)
    assert page["total"] == 3 and [t["item_id"] for t in page["items"]] == [items[0]["id"]]
    assert [t["item_id"] for t in listed(zhang, sort="created", limit=2, offset=2)["items"]] == [items[0]["id"]]

    complete(zhang, "draft_plan", items[0]["id"], PLAN)  # approve_plan: no filter of zhang's shows it
    advance(server, to="2026-11-25T12:00:00+08:00")  # Wednesday noon: due today, yellow
    today = listed(zhang)
    assert {(t["light"], t["working_days_left"]) for t in today["items"]} == {("yellow", 0)}
    assert listed(zhang, light="yellow")["total"] == 2
    advance(server, to="2026-11-27T10:00:00+08:00")  # Friday: two working days late
    late = listed(zhang, light="red")
    assert late["total"] == 2 and late["overdue"] == 2
    assert {t["working_days_left"] for t in late["items"]} == {-2}
    later_first = listed(zhang, sort="due_desc")["items"]
    assert len(later_first) == 2


@BOTH_DATABASES
def test_bad_filters_are_refused_and_change_nothing(server):
    zhang = server.login("zhang")
    for params, field in (({"light": "purple"}, "light"), ({"sort": "random"}, "sort"), ({"state": "all"}, "state"),
                          ({"page": "0"}, "page"), ({"page": "x"}, "page"), ({"page": "99999999999"}, "page"),
                          ({"limit": "0"}, "limit"), ({"q": "x" * 101}, "q")):
        error = refused(zhang, **params)
        assert field in str(error["details"]), (params, error)
    error = refused(zhang, process="nope", department="zz")
    assert {(d["field"], d["code"]) for d in error["details"]} >= {("process", "unknown_process"),
                                                                    ("department", "unknown_department")}
    assert listed(zhang)["total"] == 0


@BOTH_DATABASES
def test_done_list_and_drafts(server):
    first, second = new_items(server, ["推进一网通办", "优化营商环境"])
    zhang, li, wang = (server.login(u) for u in ("zhang", "li", "wang"))
    task = inbox_task(zhang, "draft_plan", first["id"])
    path = f"/api/v1/tasks/{task['id']}/draft"

    saved = zhang.request("PUT", path, json={"data": {"owner": "zhang", "measures": "先行"}})
    assert saved.status_code == 200, saved.text
    assert saved.json()["data"] == {"owner": "zhang", "measures": "先行"} and saved.json()["saved_at"]
    again = zhang.request("PUT", path, json={"data": {"measures": "再议"}})  # replaces, never merges
    assert again.status_code == 200 and again.json()["data"] == {"measures": "再议"}
    assert zhang.get(f"/api/v1/tasks/{task['id']}").json()["draft"] == {"measures": "再议"}
    assert li.get(f"/api/v1/tasks/{task['id']}").json()["draft"] is None  # each person's own

    # bad drafts: refused, nothing stored or changed
    for body, status in (({"data": [1]}, 400), ({"data": "x"}, 400), ({}, 400),
                         ({"data": {"measures": "长" * 70_000}}, 400)):
        response = zhang.request("PUT", path, json=body)
        assert response.status_code == status, (body, response.text)
    assert zhang.request("PUT", path, json={"data": {"m": "x" * 70_000}}).json()["error"]["details"][0]["code"] \
        == "data_too_large"
    assert wang.request("PUT", path, json={"data": {}}).status_code in (403, 404)  # another department's
    assert zhang.request("PUT", "/api/v1/tasks/no-such-task/draft", json={"data": {}}).status_code == 404
    sup = server.login("sup")  # sees every task, works none of the department's
    assert sup.request("PUT", path, json={"data": {}}).status_code == 403
    with server.engine.db.read() as session:
        assert [(d.username, d.data) for d in session.scalars(select(TaskDraft))] == [("zhang", {"measures": "再议"})]

    complete(zhang, "draft_plan", first["id"], PLAN)
    with server.engine.db.read() as session:  # cleared with the completion
        assert session.scalar(select(func.count()).select_from(TaskDraft)) == 0
    response = zhang.request("PUT", path, json={"data": {}})
    assert response.status_code == 409 and response.json()["error"]["details"][0]["code"] == "task_closed"

    advance(server, seconds=60)
    complete(zhang, "draft_plan", second["id"], PLAN)
    done = listed(zhang, state="done")
    assert done["total"] == 2 and [t["item_id"] for t in done["items"]] == [second["id"], first["id"]]
    assert all(t["state"] == "completed" and t["completed_by"] == "zhang" for t in done["items"])
    assert [t["item_id"] for t in listed(zhang, state="done", limit=1, page=2)["items"]] == [first["id"]]
    assert listed(li, state="done")["total"] == 0  # li's department, not li's work


@BOTH_DATABASES
def test_approvals_and_escalations_have_due_times_and_turn_red(server_factory):
    server = server_factory(deadlines={"approval_working_days": 1, "escalation_working_days": 2}, **LONG_TOKENS)
    item, = new_items(server, ["推进一网通办"])
    boss, sup = server.login("boss"), server.login("sup")
    complete(server.login("zhang"), "draft_plan", item["id"], PLAN)
    approve = inbox_task(boss, "approve_plan", item["id"])
    # completed Monday 09:01: office close of the next working day (1, as configured)
    assert approve["due_at"] == "2026-11-24T10:00:00+00:00" and approve["light"] == "green"
    assert approve["working_days_left"] == 1

    other, = new_items(server, ["优化营商环境"])  # its plan will be late: escalated Wed 18:00
    advance(server, to="2026-11-25T18:00:01+08:00")
    assert inbox_task(boss, "approve_plan", item["id"])["light"] == "red"
    assert listed(boss, light="red", key="approve_plan")["total"] == 1
    handle = inbox_task(sup, "handle_escalation", other["id"])
    assert handle["due_at"] == "2026-11-27T10:00:00+00:00"  # Friday 18:00: two working days on
    advance(server, to="2026-11-27T18:00:01+08:00")
    assert inbox_task(sup, "handle_escalation", other["id"])["light"] == "red"
    assert listed(sup, light="red", key="handle_escalation")["total"] == 1


def test_working_days_left_counts_the_calendar_not_the_clock():
    import datetime as dt

    from engine.calendar import BusinessCalendar
    from workflows.inbox import days_left_words, working_days_left

    calendar = BusinessCalendar(extra_holidays=["2026-12-01"])  # a Tuesday off
    friday = dt.datetime(2026, 11, 27, 10, tzinfo=calendar.tz)
    at = lambda day, hour=18: dt.datetime(2026, 12, day, hour, tzinfo=calendar.tz)  # noqa: E731
    assert working_days_left(calendar, at(2), friday) == 2  # Mon 30 Nov, (Tue off), Wed 2 Dec
    assert working_days_left(calendar, friday.replace(hour=18), friday) == 0
    assert working_days_left(calendar, friday, at(3)) == -3  # Mon, Wed, Thu
    assert working_days_left(calendar, None, friday) is None
    assert working_days_left(calendar, friday.replace(year=2040), friday) is None  # too far to count
    assert [days_left_words(n, late) for n, late in ((2, False), (0, False), (0, True), (-3, True), (None, False))] \
        == ["剩 2 个工作日", "今日到期", "已超期", "已超期 3 个工作日", "—"]
