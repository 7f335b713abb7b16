"""Bad input over HTTP gets a clear error in the contract's shape, and changes nothing."""
import threading

import pytest
from sqlalchemy import func, select

from engine.errors import InvalidInput

from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM, PLAN, snapshot
from workflows.supervision.models import Item, ItemDepartment, ItemPlan


def full_snapshot(engine):
    state = snapshot(engine)
    with engine.db.read() as session:
        for model in (Item, ItemDepartment, ItemPlan):
            state[model.__tablename__] = session.scalar(select(func.count()).select_from(model))
    return state


def assert_error(response, status, code, fields=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if fields is not None:
        assert {d["field"] for d in error["details"]} >= set(fields), error


@pytest.fixture
def sec(server):
    return server.login("sec")


@BOTH_DATABASES
def test_malformed_json_wrong_types_missing_fields(server, sec):
    before = full_snapshot(server.engine)
    bad = sec.request("POST", "/api/v1/items", data=b'{"title": "x",', headers={"Content-Type": "application/json"})
    assert_error(bad, 400, "invalid_input")
    assert_error(sec.post("/api/v1/items", {**ITEM, "title": 5, "co_departments": "d2"}), 400,
                 "invalid_input", ["title", "co_departments"])
    assert_error(sec.post("/api/v1/items", {"title": "x"}), 400, "invalid_input",
                 ["department", "leader", "deadline"])
    assert_error(sec.post("/api/v1/items", {**ITEM, "deadline": "next friday"}), 400, "invalid_input", ["deadline"])
    assert_error(sec.post("/api/v1/items", {**ITEM, "title": "   "}), 400, "invalid_input", ["title"])  # blank
    assert_error(sec.post("/api/v1/items", [1, 2]), 400, "invalid_input")
    assert full_snapshot(server.engine) == before


@BOTH_DATABASES
def test_unknown_departments_and_users(server, sec):
    admin = server.login("admin")
    before = full_snapshot(server.engine)
    assert_error(sec.post("/api/v1/items", {**ITEM, "department": "nope"}), 400, "invalid_input", ["department"])
    assert_error(sec.post("/api/v1/items", {**ITEM, "co_departments": ["d2", "ghost"]}), 400, "invalid_input",
                 ["co_departments/1"])
    assert_error(sec.post("/api/v1/items", {**ITEM, "leader": "zhang"}), 400, "invalid_input", ["leader"])
    assert_error(admin.post("/api/v1/users", {"username": "new", "password": "long-enough", "display_name": "n",
                                              "department": "ghost", "roles": ["staff"]}),
                 400, "invalid_input", ["department"])
    assert_error(admin.post("/api/v1/users", {"username": "new", "password": "long-enough", "display_name": "n",
                                              "department": "d1", "roles": ["emperor"]}),
                 400, "invalid_input", ["roles/0"])
    assert_error(admin.post("/api/v1/departments", {"code": "d1", "name": "dup"}), 409, "conflict")
    assert full_snapshot(server.engine) == before


@BOTH_DATABASES
def test_unknown_ids_are_404(server, sec):
    admin = server.login("admin")
    before = full_snapshot(server.engine)
    for response in (sec.get("/api/v1/items/nope"), admin.get("/api/v1/instances/nope"),
                     admin.get("/api/v1/tasks/nope"), admin.post("/api/v1/tasks/nope/complete", {"data": {}}),
                     admin.get("/api/v1/definitions/nope"), admin.get("/api/v1/definitions/nope/xml"),
                     admin.get("/api/v1/definitions/supervision/xml", params={"version": 99}),
                     admin.get("/api/v1/no/such/route")):
        assert_error(response, 404, "not_found")
    assert_error(admin.post("/api/v1/tasks/nope/assign", {"username": "zhang"}), 404, "not_found")
    assert full_snapshot(server.engine) == before


def test_report_periods_outside_the_report_years_are_400(server, sec):
    """Reports cover the years 2000-2100, as the year report and the pages' pickers do."""
    for path in ("/api/v1/reports/weekly?week=8547-W09", "/api/v1/reports/ranking?month=8547-05",
                 "/api/v1/reports/weekly?week=1999-W01", "/api/v1/reports/year?year=2101"):
        assert_error(sec.get(path), 400, "invalid_input")
    assert sec.get("/api/v1/reports/weekly?week=2100-W01").status_code == 200


def test_the_clock_moves_at_most_ten_years_at_a_time(server):
    """A schemathesis case moved the rehearsal clock to the year 5608; every weekly report then
    walked the calendar day by day from each overdue step to it, for seconds per request."""
    admin = server.login("admin")
    before = admin.get("/api/v1/clock").json()["now"]
    assert_error(admin.post("/api/v1/clock/advance", {"to": "5608-01-01T09:00:00+08:00"}), 400,
                 "invalid_input", ["to"])
    assert_error(admin.post("/api/v1/clock/advance", {"seconds": 11 * 366 * 86400}), 400, "invalid_input")
    assert admin.get("/api/v1/clock").json()["now"] == before
    with pytest.raises(InvalidInput, match="at most 3660 days"):
        server.engine.advance_clock(to="5608-01-01T09:00:00+08:00")


def test_oversize_body_is_413(server):
    ada = server.login("ada")
    before = full_snapshot(server.engine)
    body = b"<x>" + b"a" * (server.engine.config["limits"]["max_body_bytes"] + 10) + b"</x>"
    response = ada.request("POST", "/api/v1/definitions", data=body, headers={"Content-Type": "application/xml"})
    assert_error(response, 413, "too_large")
    assert full_snapshot(server.engine) == before


def test_bad_bpmn_over_http_names_the_element(server):
    ada = server.login("ada")
    before = full_snapshot(server.engine)
    source = (b'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
              b'id="d" targetNamespace="t"><bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>'
              b'<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="ghost"/></bpmn:process></bpmn:definitions>')
    response = ada.request("POST", "/api/v1/definitions", data=source, headers={"Content-Type": "application/xml"})
    assert_error(response, 400, "invalid_definition")
    assert response.json()["error"]["details"]["element"] == "f"
    assert_error(ada.request("POST", "/api/v1/definitions", data=b"{}", headers={"Content-Type": "application/json"}),
                 415, "unsupported_media_type")
    assert full_snapshot(server.engine) == before


@BOTH_DATABASES
def test_someone_elses_task_done_task_and_form_errors(server, sec):
    zhang, wang = server.login("zhang"), server.login("wang")
    item = sec.post("/api/v1/items", ITEM).json()
    task = zhang.get("/api/v1/tasks", params={"item_id": item["id"]}).json()["items"][0]
    before = full_snapshot(server.engine)
    assert_error(wang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": PLAN}), 403, "forbidden")
    assert_error(zhang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {**PLAN, "milestones": []}}),
                 400, "form_invalid", ["milestones"])
    assert_error(zhang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": "plan"}), 400, "invalid_input")
    assert full_snapshot(server.engine) == before

    assert zhang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": PLAN}).status_code == 200
    after = full_snapshot(server.engine)
    assert_error(zhang.post(f"/api/v1/tasks/{task['id']}/complete", {"data": PLAN}), 409, "conflict")
    assert full_snapshot(server.engine) == after


@BOTH_DATABASES
def test_concurrent_completion_over_http_is_one_200_and_one_409(server, sec):
    zhang, li = server.login("zhang"), server.login("li")
    item = sec.post("/api/v1/items", ITEM).json()
    task = zhang.get("/api/v1/tasks", params={"item_id": item["id"]}).json()["items"][0]
    barrier, codes = threading.Barrier(2), []

    def attempt(client):
        barrier.wait()
        codes.append(client.post(f"/api/v1/tasks/{task['id']}/complete", {"data": PLAN}).status_code)
    threads = [threading.Thread(target=attempt, args=(c,)) for c in (zhang, li)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 409]
    detail = sec.get(f"/api/v1/items/{item['id']}").json()
    assert [t["key"] for t in detail["open_tasks"]] == ["approve_plan"]
    assert len(detail["plans"]) == 1
