"""Problem rectification (问题整改) through HTTP only: the loop, the ledger (问题台账) and its downloads."""
import csv
import io

import openpyxl
from sqlalchemy import func, select

from engine.models import Instance
from tests.conftest import BOTH_DATABASES
from workflows.rectification.models import Problem

PROBLEM = {"title": "食堂食品安全管理制度落实不到位", "description": "巡察发现进货查验台账缺失",
           "source": "inspection", "department": "d1", "deadline": "2026-12-31"}
PLAN = {"measures": "建立进货查验台账，专人负责", "owner": "zhang", "deadline": "2026-12-12"}
DONE = {"summary": "台账已建立并运行", "evidence": "台账照片.jpg", "done": True}


def inbox_task(client, key, problem_id):
    response = client.get("/api/v1/tasks", params={"item_id": problem_id})
    assert response.status_code == 200, response.text
    tasks = [t for t in response.json()["items"] if t["key"] == key]
    assert tasks, f"no {key} in inbox: {response.json()}"
    return tasks[0]


def complete(client, key, problem_id, data):
    task = inbox_task(client, key, problem_id)
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", {"data": data})
    assert response.status_code == 200, response.text
    return response.json()


def later(server, moment, *usernames):
    """Move the simulated clock, then log in again (tokens last 12 hours)."""
    server.engine.clock.advance(to=moment)
    server.tokens.clear()
    return [server.login(u) for u in usernames]


def ledger(client, **params):
    response = client.get("/api/v1/problems", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def csv_rows(client, **params):
    response = client.get("/api/v1/problems", params={**params, "format": "csv"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode("utf-8"))
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def xlsx_rows(client, **params):
    response = client.get("/api/v1/problems", params={**params, "format": "xlsx"})
    assert response.status_code == 200 and "spreadsheetml" in response.headers["Content-Type"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return [dict(zip(header, row)) for row in rows]


@BOTH_DATABASES
def test_rectification_loop_over_http(server):
    sec, zhang, wang, admin = (server.login(u) for u in ("sec", "zhang", "wang", "admin"))
    created = sec.post("/api/v1/problems", PROBLEM)
    assert created.status_code == 201, created.text
    problem = created.json()
    assert problem["code"] == "ZG-2026-0001" and problem["status"] == "open"
    assert set(problem) == {"id", "code", "instance_id", "status"}
    pid = problem["id"]

    assert zhang.get("/api/v1/tasks", params={"item_id": pid}).json()["total"] == 0  # not handed over yet
    complete(sec, "hand_over", pid, {"requirements": "限期建立台账"})
    plan_task = inbox_task(zhang, "submit_rectification_plan", pid)
    assert plan_task["due_at"] == "2026-11-25T10:00:00+00:00" and plan_task["light"] == "green"
    assert wang.get(f"/api/v1/problems/{pid}").status_code == 403
    assert wang.post(f"/api/v1/tasks/{plan_task['id']}/complete", {"data": PLAN}).status_code == 403
    [row] = ledger(sec)["items"]
    assert (row["status"], row["light"], row["current_step"]) == ("open", "green", "提交整改方案")

    [sec] = later(server, "2026-11-25T09:00:00+08:00", "sec")  # due today
    assert [p["id"] for p in ledger(sec, light="yellow")["items"]] == [pid]
    sec, zhang, wang, admin = later(server, "2026-11-26T09:00:00+08:00",  # overdue
                                    "sec", "zhang", "wang", "admin")
    assert [p["id"] for p in ledger(sec, light="red")["items"]] == [pid]
    assert ledger(sec, light="green")["total"] == 0
    [row] = csv_rows(sec)
    assert (row["编号"], row["状态"], row["预警"], row["当前环节"], row["来源"], row["责任部门"]) == (
        "ZG-2026-0001", "整改中", "红", "提交整改方案", "巡察", "发展和改革委员会")
    [row] = xlsx_rows(sec, light="red")
    assert (row["编号"], row["状态"], row["预警"]) == ("ZG-2026-0001", "整改中", "红")

    complete(zhang, "submit_rectification_plan", pid, PLAN)  # (late; timers: tests/test_rectification_deadlines.py)
    complete(sec, "review_rectification_plan", pid, {"approved": True})
    assert zhang.get(f"/api/v1/tasks/{plan_task['id']}").json()["state"] == "completed"  # its department sees it
    assert wang.get(f"/api/v1/tasks/{plan_task['id']}").status_code == 403
    report_task = inbox_task(zhang, "submit_rectification_report", pid)
    assert report_task["due_at"] == "2026-12-14T10:00:00+00:00"  # 12-12 is a Saturday
    assert ledger(sec)["items"][0]["light"] == "green"
    complete(zhang, "submit_rectification_report", pid, {"summary": "推进中", "done": False})
    complete(zhang, "submit_rectification_report", pid, DONE)
    complete(sec, "verify_rectification", pid, {"passed": False, "findings": "台账记录不完整"})
    assert inbox_task(zhang, "submit_rectification_report", pid)["due_at"] == "2026-12-14T10:00:00+00:00"
    complete(zhang, "submit_rectification_report", pid, DONE)
    complete(sec, "verify_rectification", pid, {"passed": True, "findings": "整改到位，予以销号"})

    body = zhang.get(f"/api/v1/problems/{pid}").json()
    assert body["status"] == "closed" and body["open_tasks"] == [] and body["closed_at"]
    assert body["light"] == "green" and body["current_step"] is None
    assert body["plan"]["deadline"] == "2026-12-12" and body["requirements"] == "限期建立台账"
    assert [(r["done"], r["passed"]) for r in body["reports"]] == [(False, None), (True, False), (True, True)]
    kinds = [r["kind"] for r in body["timeline"]]
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
    assert kinds.count("task_completed") == 8  # with the plan's review (审定)

    assert ledger(sec, status="open")["total"] == 0
    [row] = ledger(sec, status="closed")["items"]
    assert row["id"] == pid and row["status"] == "closed"
    [row] = csv_rows(sec, status="closed")
    assert (row["状态"], row["预警"], row["当前环节"], row["方案完成时限"]) == ("已销号", "", "", "2026-12-12")
    [row] = xlsx_rows(sec)
    assert (row["状态"], row["销号时间"] is not None) == ("已销号", True)
    assert admin.get(f"/api/v1/instances/{problem['instance_id']}").json()["status"] == "completed"
    assert admin.get("/api/v1/audit/verify").json()["ok"] is True


def test_ledger_filters_and_scope(server):
    sec, zhang, wang, sup, boss = (server.login(u) for u in ("sec", "zhang", "wang", "sup", "boss"))
    registered = [sec.post("/api/v1/problems", body).json() for body in (
        {**PROBLEM, "title": "巡察发现的问题"},
        {**PROBLEM, "title": "自查发现的问题", "source": "self_check", "department": "d2"},
        {**PROBLEM, "title": "审计发现的问题", "source": "audit", "department": "d2"})]
    codes = [p["code"] for p in registered]
    assert codes == ["ZG-2026-0001", "ZG-2026-0002", "ZG-2026-0003"]
    assert [p["code"] for p in ledger(sec)["items"]] == codes[::-1]  # newest first
    assert [p["code"] for p in ledger(sup, source="audit")["items"]] == [codes[2]]
    assert ledger(sec, department="d2")["total"] == 2
    assert [p["code"] for p in ledger(sec, q="自查")["items"]] == [codes[1]]
    assert [p["code"] for p in ledger(sec, q="ZG-2026-0001")["items"]] == [codes[0]]
    page = ledger(sec, limit=1, offset=1)
    assert page["total"] == 3 and [p["code"] for p in page["items"]] == [codes[1]]
    assert len(csv_rows(sec, limit=1)) == 3  # a download has every match, not one page
    assert [p["code"] for p in ledger(zhang)["items"]] == [codes[0]]  # staff: their department's
    assert ledger(wang)["total"] == 2 and ledger(wang, department="d1")["total"] == 0
    assert ledger(boss)["total"] == 0 and csv_rows(boss) == []
    assert zhang.get(f"/api/v1/problems/{registered[1]['id']}").status_code == 403
    assert wang.get(f"/api/v1/problems/{registered[1]['id']}").status_code == 200
    assert server.anonymous().get("/api/v1/problems").status_code == 401


def test_registration_refuses_bad_input_and_changes_nothing(server):
    sec, zhang = server.login("sec"), server.login("zhang")

    def counts():
        with server.engine.db.read() as session:
            return [session.scalar(select(func.count()).select_from(model)) for model in (Problem, Instance)]
    before = counts()
    assert zhang.post("/api/v1/problems", PROBLEM).status_code == 403
    for bad, field in (({**PROBLEM, "source": "rumour"}, "source"),
                       ({**PROBLEM, "department": "nope"}, "department"),
                       ({**PROBLEM, "deadline": "2026-02-30"}, "deadline"), ({**PROBLEM, "title": ""}, "title")):
        response = sec.post("/api/v1/problems", bad)
        assert response.status_code == 400, response.text
        assert field in {d["field"] for d in response.json()["error"]["details"]}
    assert sec.get("/api/v1/problems/nope").status_code == 404
    assert sec.get("/api/v1/problems", params={"format": "pdf"}).status_code == 400
    assert counts() == before
