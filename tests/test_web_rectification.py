"""The rectification pages (Flask's test client): the ledger (问题台账) with filters, search and
session-authenticated CSV/XLSX downloads, a problem's page, 问题登记, and the secretariat's
triage desk for public complaints (群众反映). Refusals change nothing."""
import datetime as dt
import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import BOTH_DATABASES
from tests.helpers import snapshot
from tests.test_web_pages import Web
from workflows.complaints.models import Complaint
from workflows.rectification.models import Problem
from workflows.supervision.models import Item

PROBLEM = {"title": "窗口服务态度差", "source": "inspection", "department": "d1", "deadline": "2026-12-31",
           "description": "巡察发现"}


def problem(server, **changes):
    response = server.login("sec").post("/api/v1/problems", {**PROBLEM, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def codes(html):
    return sorted(set(re.findall(r"ZG-2026-\d{4}", html)))


def field_error(html, field):
    return re.findall(rf'data-field="{field}">([^<]+)<', html)


def count(engine, model):
    with engine.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


@BOTH_DATABASES
def test_ledger_filters_search_scope_and_downloads(server):
    first = problem(server)
    second = problem(server, title="审计发现专项资金滞留", source="audit", department="d2", description="")
    third = problem(server, title="自查发现台账缺失", source="self_check", description="自查")
    sec, zhang, wang = Web(server.app, "sec"), Web(server.app, "zhang"), Web(server.app, "wang")

    page = sec.get("/problems").text
    assert codes(page) == sorted([first["code"], second["code"], third["code"]])
    assert 'id="problem-total">共 3 个问题' in page and "巡察" in page and "移交" in page
    assert codes(sec.get("/problems?source=audit").text) == [second["code"]]
    assert codes(sec.get("/problems?department=d1").text) == sorted([first["code"], third["code"]])
    assert codes(sec.get("/problems?q=台账").text) == [third["code"]]
    assert codes(sec.get("/problems?q=巡察发现").text) == [first["code"]]  # the description too
    assert codes(sec.get("/problems?status=closed").text) == []
    assert codes(sec.get("/problems?light=green").text) == sorted([first["code"], second["code"], third["code"]])
    assert codes(sec.get("/problems?light=red").text) == []
    assert codes(sec.get("/problems?source=nonsense").text) == codes(page)  # unknown filter values: ignored
    # scope: a department's staff see their department's problems only
    assert codes(zhang.get("/problems").text) == sorted([first["code"], third["code"]])
    assert codes(wang.get("/problems").text) == [second["code"]]
    assert 'id="new-problem"' in page and 'id="new-problem"' not in zhang.get("/problems").text

    # downloads: the API's files, the page's filters, the reader's scope
    links = re.findall(r'href="(/problems\.(?:csv|xlsx)[^"]*)"', sec.get("/problems?source=inspection&q=窗口").text)
    assert links == ["/problems.csv?source=inspection&amp;q=%E7%AA%97%E5%8F%A3",
                     "/problems.xlsx?source=inspection&amp;q=%E7%AA%97%E5%8F%A3"]
    csv = sec.get("/problems.csv?source=inspection&q=窗口")
    assert csv.mimetype == "text/csv" and csv.data.startswith("\ufeff".encode())
    text = csv.data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("编号,问题,来源,责任部门") and codes(text) == [first["code"]]
    assert "巡察,发展和改革委员会,整改中" in text
    api = server.login("sec").get("/api/v1/problems", params={"format": "csv", "source": "inspection", "q": "窗口"})
    assert api.content == csv.data  # the same file as the API's
    xlsx = wang.get("/problems.xlsx")
    assert xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.title == "问题台账" and [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [second["code"]]
    # instants in local time, as the pages show them (登记时间, 环节期限), never UTC ISO strings
    row = dict(zip(*sheet.iter_rows(max_row=2, values_only=True)))
    shown = server.login("wang").get(f"/api/v1/problems/{second['id']}").json()
    local = server.engine.calendar.local
    assert row["登记时间"] == local(dt.datetime.fromisoformat(shown["created_at"])).strftime("%Y-%m-%d %H:%M")
    assert shown["open_tasks"][0]["due_at"] is None and row["环节期限"] is None  # the first step has no due time
    assert row["整改时限"] == PROBLEM["deadline"]  # a date stays a date
    assert Web(server.app).get("/problems.csv").status_code == 302  # log in first

    # the problem's page: facts, the open step, the timeline; others' problems are out of scope
    detail = sec.get(f"/problems/{first['id']}").text
    for text in (first["code"], "窗口服务态度差", "巡察发现", "移交", "流程启动", "尚未提交整改方案", "暂无整改报告"):
        assert text in detail, text
    assert wang.get(f"/problems/{first['id']}").status_code == 403
    assert zhang.get(f"/problems/{first['id']}").status_code == 200
    assert sec.get("/problems/nope").status_code == 404


def test_register_a_problem_and_work_it_on_the_task_pages(server):
    sec, zhang = Web(server.app, "sec"), Web(server.app, "zhang")
    assert zhang.get("/problems/new").status_code == 403
    assert zhang.post("/problems/new", {**PROBLEM}).status_code == 403
    page = sec.get("/problems/new").text
    assert "问题来源" in page and "审计" in page and "住房和城乡建设局" in page
    before = snapshot(server.engine)
    refused = sec.post("/problems/new", {"title": "", "source": "nope", "department": "d1", "deadline": "2026-13-01"})
    assert refused.status_code == 200
    assert field_error(refused.text, "title") == ["此项为必填"]
    assert field_error(refused.text, "source") == ["请选择有效选项"]
    assert field_error(refused.text, "deadline") == ["请输入有效日期（年-月-日）"]
    assert 'value="d1" selected' in refused.text  # kept
    blank = sec.post("/problems/new", {**PROBLEM, "title": "   "})
    assert field_error(blank.text, "title") == ["此项为必填"]
    assert snapshot(server.engine) == before and count(server.engine, Problem) == 0

    created = sec.post("/problems/new", PROBLEM)
    assert created.status_code == 302
    [row] = server.login("sec").get("/api/v1/problems").json()["items"]
    assert created.headers["Location"] == f"/problems/{row['id']}"
    assert (row["code"], row["source"], row["department"], row["deadline"]) == ("ZG-2026-0001", "inspection", "d1", "2026-12-31")

    # the secretariat hands it over on the ordinary task page; the task page shows the problem
    inbox = sec.get("/inbox").text
    assert "ZG-2026-0001" in inbox and "移交" in inbox
    hand_over = next(t["id"] for t in server.login("sec").get("/api/v1/tasks").json()["items"] if t["key"] == "hand_over")
    task_page = sec.get(f"/tasks/{hand_over}").text
    assert 'id="problem"' in task_page and "窗口服务态度差" in task_page and "ZG-2026-0001" in task_page
    assert sec.post(f"/tasks/{hand_over}", {"requirements": "一个月内整改到位"}).status_code == 302
    detail = sec.get(f"/problems/{row['id']}").text
    assert "一个月内整改到位" in detail and "整改方案" in detail
    plan = next(t["id"] for t in server.login("zhang").get("/api/v1/tasks").json()["items"]
                if t["key"] == "submit_rectification_plan")
    assert "窗口服务态度差" in zhang.get(f"/tasks/{plan}").text


# -- 群众反映 ------------------------------------------------------------------------------------------
def complaints(server, *texts):
    anonymous = server.anonymous()
    for text in texts:
        assert anonymous.post("/api/v1/complaints", {"text": text, "contact": "138"}).status_code == 201
    with server.engine.db.read() as session:
        return {c.text: c.id for c in session.scalars(select(Complaint))}


def state_of(server, complaint_id):
    with server.engine.db.read() as session:
        return session.get(Complaint, complaint_id).state


def test_complaint_triage_desk(server):
    ids = complaints(server, "小区门口路灯坏了一个月", "菜市场占道经营", "噪音扰民", "重复反映路灯")
    sec, sup, zhang = Web(server.app, "sec"), Web(server.app, "sup"), Web(server.app, "zhang")
    page = sec.get("/complaints").text
    assert 'id="complaint-total">待分拣 4 条' in page and "小区门口路灯坏了一个月" in page
    assert "群众反映" in re.search(r'<nav class="nav".*?</nav>', page, re.S).group(0)
    assert zhang.get("/complaints").status_code == 403
    assert zhang.get(f"/complaints/{ids['噪音扰民']}").status_code == 403
    assert "由秘书科分拣处理" in sup.get(f"/complaints/{ids['噪音扰民']}").text  # supervisors read only
    before = snapshot(server.engine)
    assert sup.post(f"/complaints/{ids['噪音扰民']}", {"as": "dismiss", "reason": "x"}).status_code == 403
    assert snapshot(server.engine) == before
    assert sec.get("/complaints/nope").status_code == 404

    # into a problem
    lamp = ids["小区门口路灯坏了一个月"]
    form = sec.get(f"/complaints/{lamp}").text
    assert 'value="小区门口路灯坏了一个月"' in form  # the title starts from the text
    refused = sec.post(f"/complaints/{lamp}", {"as": "problem", "title": "路灯维修", "department": "", "deadline": ""})
    assert field_error(refused.text, "department") == ["此项为必填"] and field_error(refused.text, "deadline") == ["此项为必填"]
    assert snapshot(server.engine) == before and state_of(server, lamp) == "received"
    done = sec.post(f"/complaints/{lamp}", {"as": "problem", "title": "路灯维修", "department": "d2",
                                             "deadline": "2026-12-15"})
    assert done.status_code == 302 and done.headers["Location"].startswith("/problems/")
    with server.engine.db.read() as session:
        row = session.scalar(select(Problem))
    assert (row.source, row.department, row.description, row.complaint_id) == ("complaint", "d2", "小区门口路灯坏了一个月", lamp)
    assert state_of(server, lamp) == "triaged"

    # into an item
    market = ids["菜市场占道经营"]
    item_form = sec.get(f"/complaints/{market}?as=item").text
    assert "分管领导" in item_form and 'name="as" value="item"' in item_form
    before = snapshot(server.engine)
    no_leader = sec.post(f"/complaints/{market}", {"as": "item", "title": "整治占道", "department": "d1",
                                                   "deadline": "2026-12-31"})
    assert field_error(no_leader.text, "leader") == ["此项为必填"]
    both = sec.post(f"/complaints/{market}", {"as": "item", "title": "整治占道", "department": "d1",
                                              "co_departments": "d1", "leader": "boss", "deadline": "2026-12-31"})
    assert field_error(both.text, "co_departments") == ["主办部门不能同时作为协办部门"]
    assert 'value="整治占道"' in both.text
    assert snapshot(server.engine) == before and state_of(server, market) == "received"
    done = sec.post(f"/complaints/{market}", {"as": "item", "title": "整治占道", "department": "d1",
                                              "co_departments": "d2", "leader": "boss", "deadline": "2026-12-31"})
    assert done.status_code == 302 and done.headers["Location"].startswith("/items/")
    with server.engine.db.read() as session:
        item = session.scalar(select(Item))
    assert (item.basis, item.co_departments, item.requirements) == ("public_complaint", ["d2"], "菜市场占道经营")

    # dismissed with a reason
    noise = ids["噪音扰民"]
    before = snapshot(server.engine)
    empty = sec.post(f"/complaints/{noise}", {"as": "dismiss", "reason": "  "})
    assert field_error(empty.text, "reason") == ["此项为必填"] and snapshot(server.engine) == before
    assert sec.post(f"/complaints/{noise}", {"as": "dismiss", "reason": "不属于本级职责"}).status_code == 302
    assert state_of(server, noise) == "dismissed"

    # once handled, a complaint is not triaged again
    before = snapshot(server.engine)
    again = sec.post(f"/complaints/{noise}", {"as": "problem", "title": "x", "department": "d1", "deadline": "2026-12-31"})
    assert again.status_code == 302 and again.headers["Location"] == f"/complaints/{noise}"
    assert snapshot(server.engine) == before and count(server.engine, Problem) == 1
    shown = sec.get(f"/complaints/{noise}").text
    assert "不属于本级职责" in shown and 'id="triage-form"' not in shown

    listed = sec.get("/complaints").text
    assert 'id="complaint-total">待分拣 1 条' in listed and "重复反映路灯" in listed
    assert "整改问题" in sec.get("/complaints?state=triaged").text
    assert "噪音扰民" in sec.get("/complaints?state=dismissed").text
    assert "重复反映路灯" in sec.get("/complaints?q=路灯").text and "菜市场" not in sec.get("/complaints?q=路灯").text


def test_an_unknown_department_or_leader_is_refused(server):
    ids = complaints(server, "某某问题")
    sec = Web(server.app, "sec")
    before = snapshot(server.engine)
    bad = sec.post(f"/complaints/{ids['某某问题']}", {"as": "item", "title": "t", "department": "zz",
                                                    "leader": "zhang", "deadline": "2026-12-31"})
    assert field_error(bad.text, "department") == ["请选择有效选项"] and field_error(bad.text, "leader") == ["请选择有效选项"]
    assert snapshot(server.engine) == before
