"""Every endpoint × every role → the expected status; and no leaks of other departments' work.

Roles run in a fixed order (callers that may act come last), so the few state-changing
checks (claim, unclaim) are deterministic.
"""
import pytest

from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM

ROLES = ["anonymous", "wang", "boss2", "sup", "ada", "sec", "boss", "zhang", "admin"]
MILESTONES = [{"date": "2026-12-10", "target": "x"}]

# (method, path, body, expected per role in ROLES order). {item}, {task}, {instance} are filled in.
MATRIX = [
    ("GET", "/api/v1/me", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/api/v1/departments", {"code": "", "name": ""}, [401, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("GET", "/api/v1/departments", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/api/v1/users", {}, [401, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("GET", "/api/v1/users", None, [401, 403, 200, 200, 403, 200, 200, 403, 200]),
    ("PATCH", "/api/v1/users/nobody", {}, [401, 403, 403, 403, 403, 403, 403, 403, 404]),
    ("POST", "/api/v1/users/nobody/password", {"password": "x"}, [401, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("PATCH", "/api/v1/departments/nope", {}, [401, 403, 403, 403, 403, 403, 403, 403, 404]),
    ("POST", "/api/v1/me/password", {"current": "wrong", "new": "x"}, [401, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("GET", "/api/v1/auth/lockouts", None, [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST", "/api/v1/auth/lockouts/lift", {"kind": "username", "key": "nobody"},
     [401, 403, 403, 403, 403, 403, 403, 403, 404]),
    ("POST", "/api/v1/definitions", "<x/>", [401, 403, 403, 403, 400, 403, 403, 403, 400]),
    ("GET", "/api/v1/definitions", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/definitions/supervision", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/definitions/supervision/xml", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/definitions/supervision/instances", None, [401, 403, 403, 200, 200, 200, 403, 403, 200]),
    ("POST", "/api/v1/definitions/supervision/migrate", {"from_version": 1, "to_version": 1},
     [401, 403, 403, 403, 400, 403, 403, 403, 400]),
    ("POST", "/api/v1/definitions/supervision/migrate", {"from_version": 1, "to_version": 1, "dry_run": False},
     [401, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("POST", "/api/v1/instances/{instance}/migrate", {"to_version": 1}, [401, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("POST", "/api/v1/instances/{instance}/retry", None, [401, 403, 403, 403, 403, 403, 403, 403, 409]),
    ("POST", "/api/v1/instances/{instance}/resume", None, [401, 403, 403, 403, 403, 403, 403, 403, 409]),
    ("POST", "/api/v1/instances/{instance}/suspend", {}, [401, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("GET", "/api/v1/incidents/timers", None, [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST", "/api/v1/incidents/timers/nope/retry", None, [401, 403, 403, 403, 403, 403, 403, 403, 404]),
    ("GET", "/api/v1/incidents/outbox", None, [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST", "/api/v1/incidents/outbox/nope/retry", None, [401, 403, 403, 403, 403, 403, 403, 403, 404]),
    ("GET", "/api/v1/incidents", None, [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST", "/api/v1/instances", {"definition": "nope"}, [401, 403, 403, 403, 404, 404, 403, 403, 404]),
    ("POST", "/api/v1/instances", {"definition": "supervision"}, [401, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("POST", "/api/v1/instances", {"definition": "rectification"}, [401, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("POST", "/api/v1/instances", {"definition": "plan_change"}, [401, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("GET", "/api/v1/instances", None, [401, 403, 403, 200, 200, 200, 403, 403, 200]),
    ("GET", "/api/v1/instances/{instance}", None, [401, 403, 403, 200, 403, 200, 403, 403, 200]),
    ("POST", "/api/v1/instances/{instance}/messages", {"name": "x"}, [401, 403, 403, 403, 403, 403, 403, 403, 409]),
    ("POST", "/api/v1/instances/{instance}/cancel", {}, [401, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("POST", "/api/v1/items", {}, [401, 403, 403, 403, 403, 400, 403, 403, 400]),
    ("GET", "/api/v1/items", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/items/{item}", None, [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("POST", "/api/v1/items/{item}/plan-change", {"reason": "r", "milestones": MILESTONES},
     [401, 403, 403, 403, 403, 403, 403, 409, 403]),
    ("POST", "/api/v1/items/{item}/extension", {"task_id": "{task}", "reason": "r", "progress": 10,
                                                 "new_due": "2026-11-27T18:00:00+08:00"},
     [401, 403, 403, 403, 403, 403, 403, 202, 403]),
    # managing items: the secretariat (and admin) edits and cancels; the lead department sends back
    ("PATCH", "/api/v1/items/{item}", {"deadline": "2026-01-01"}, [401, 403, 403, 403, 403, 400, 403, 403, 400]),
    ("POST", "/api/v1/items/{item}/department", {"department": "nope"},
     [401, 403, 403, 403, 403, 400, 403, 403, 400]),
    ("POST", "/api/v1/items/{item}/send-back", {"reason": "r"}, [401, 403, 403, 403, 403, 403, 403, 200, 403]),
    ("POST", "/api/v1/items/{item}/cancel", {}, [401, 403, 403, 403, 403, 400, 403, 403, 400]),
    # 回头看: the secretariat (and admin), on a closed record only (these are open: 409)
    ("POST", "/api/v1/items/{item}/lookback", {"months": 3}, [401, 403, 403, 403, 403, 409, 403, 403, 409]),
    ("POST", "/api/v1/problems/{problem}/lookback", {"months": 3}, [401, 403, 403, 403, 403, 409, 403, 403, 409]),
    ("GET", "/api/v1/escalations", None, [401, 403, 200, 200, 403, 403, 200, 403, 200]),
    ("GET", "/api/v1/measures", None, [401, 403, 200, 200, 403, 200, 200, 403, 200]),
    ("POST", "/api/v1/measures/999999/interview", {}, [401, 403, 403, 400, 403, 400, 403, 403, 400]),
    ("GET", "/api/v1/measure-kinds", None, [401, 403, 200, 200, 403, 200, 200, 403, 200]),
    ("POST", "/api/v1/measure-kinds", {}, [401, 403, 403, 403, 403, 400, 403, 403, 400]),
    ("PATCH", "/api/v1/measure-kinds/nope", {"points": 1}, [401, 403, 403, 403, 403, 404, 403, 403, 404]),
    ("GET", "/api/v1/notifications", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/api/v1/notifications/999999/read", None, [401, 404, 404, 404, 404, 404, 404, 404, 404]),
    # staff and leaders pass the role check: their own self-check findings (campaigns)
    ("POST", "/api/v1/problems", {}, [401, 400, 400, 403, 403, 400, 400, 400, 400]),
    ("POST", "/api/v1/campaigns", {}, [401, 403, 403, 403, 403, 400, 403, 403, 400]),
    ("GET", "/api/v1/campaigns", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/campaigns/{campaign}", None, [401, 403, 403, 200, 403, 200, 403, 200, 200]),
    ("GET", "/api/v1/campaigns/{campaign}/figures?format=csv", None, [401, 403, 403, 200, 403, 200, 403, 200, 200]),
    ("PATCH", "/api/v1/campaigns/{campaign}", {}, [401, 403, 403, 403, 403, 200, 403, 403, 200]),
    ("GET", "/api/v1/problems", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/problems?format=csv", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/problems/{problem}", None, [401, 403, 403, 200, 403, 200, 403, 200, 200]),
    ("POST", "/api/v1/complaints", {}, [400] * 9),
    ("POST", "/api/v1/files", {}, [401] + [400] * 8),  # no multipart file
    ("GET", "/api/v1/files/nope", None, [401] + [404] * 8),
    ("GET", "/api/v1/complaints", None, [401, 403, 403, 200, 403, 200, 403, 403, 200]),
    ("GET", "/api/v1/complaints/{complaint}", None, [401, 403, 403, 200, 403, 200, 403, 403, 200]),
    ("POST", "/api/v1/complaints/{complaint}/triage", {}, [401, 403, 403, 403, 403, 400, 403, 403, 400]),
    ("POST", "/api/v1/complaints/{complaint}/dismiss", {}, [401, 403, 403, 403, 403, 400, 403, 403, 400]),
    ("GET", "/complaints/new", None, [200] * 9),
    ("GET", "/api/v1/complaints/lookup?ref=TS-2026-000001-AAAA", None, [404] * 9),
    ("GET", "/complaints/lookup", None, [200] * 9),
    ("POST", "/api/v1/publications", {}, [401, 403, 403, 403, 403, 400, 403, 403, 400]),
    ("GET", "/api/v1/publications", None, [401, 403, 403, 403, 403, 200, 403, 403, 200]),
    ("GET", "/api/v1/publications/999999", None, [401, 403, 403, 403, 403, 404, 403, 403, 404]),
    ("DELETE", "/api/v1/publications/999999", None, [401, 403, 403, 403, 403, 404, 403, 403, 404]),
    ("GET", "/public", None, [200] * 9),
    ("GET", "/public/999999", None, [404] * 9),
    ("GET", "/api/v1/tasks", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/tasks/{task}", None, [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("POST", "/api/v1/tasks/{task}/complete", {"data": {}}, [401, 403, 403, 403, 403, 403, 403, 400, 400]),
    ("POST", "/api/v1/tasks/{task}/assign", {"username": "nobody"}, [401, 403, 403, 400, 403, 403, 400, 403, 400]),
    ("GET", "/api/v1/tasks/{task}/comments", None, [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("POST", "/api/v1/tasks/{task}/comments", {"body": "x"}, [401, 403, 403, 201, 403, 201, 201, 201, 201]),
    ("GET", "/api/v1/tasks?state=done", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("PUT", "/api/v1/tasks/{task}/draft", {"data": {}}, [401, 403, 403, 403, 403, 403, 403, 200, 200]),
    ("POST", "/api/v1/tasks/{task}/claim", None, [401, 403, 403, 403, 403, 403, 403, 200, 409]),
    ("POST", "/api/v1/tasks/{task}/unclaim", None, [401, 403, 403, 200, 403, 403, 200, 403, 200]),
    ("GET", "/api/v1/reports/weekly", None, [401, 403, 200, 200, 403, 200, 200, 403, 200]),
    ("GET", "/api/v1/reports/ranking", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/reports/year", None, [401, 403, 200, 200, 403, 200, 200, 403, 200]),
    ("GET", "/api/v1/reports/monthly-digest", None, [401, 403, 200, 200, 403, 200, 200, 403, 200]),
    ("GET", "/api/v1/cockpit", None, [401, 403, 200, 200, 403, 200, 200, 403, 200]),
    ("GET", "/api/v1/reports/snapshots", None, [401, 403, 200, 200, 403, 200, 200, 403, 200]),
    ("GET", "/api/v1/reports/snapshots/weekly/2026-W48", None, [401, 403, 404, 404, 403, 404, 404, 403, 404]),
    ("GET", "/api/v1/audit", None, [401, 403, 403, 200, 403, 200, 403, 403, 200]),
    ("GET", "/api/v1/audit/verify", None, [401, 403, 403, 200, 403, 200, 403, 403, 200]),
    ("GET", "/api/v1/calendar/2027", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("PUT", "/api/v1/calendar/2027", {"holidays": ["x"], "working_days": []},
     [401, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("GET", "/api/v1/calendar/2027/changes", None, [401, 403, 403, 403, 403, 403, 403, 403, 404]),
    ("POST", "/api/v1/calendar/2027/changes/apply", {}, [401, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("GET", "/api/v1/clock", None, [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/api/v1/clock/advance", {"seconds": 0}, [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("GET", "/healthz", None, [200] * 9),
    ("GET", "/metrics", None, [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("GET", "/api/v1/openapi.json", None, [200] * 9),
    # last: each caller ends its own token, which then opens nothing
    ("POST", "/api/v1/auth/revoke", None, [401] + [204] * 8),
    ("GET", "/api/v1/me", None, [401] * 9),
]


@pytest.fixture
def world(server):
    clients = {role: server.anonymous() if role == "anonymous" else server.login(role) for role in ROLES}
    item = clients["sec"].post("/api/v1/items", {**ITEM, "co_departments": []}).json()
    task = clients["zhang"].get("/api/v1/tasks", params={"item_id": item["id"]}).json()["items"][0]
    problem = clients["sec"].post("/api/v1/problems", {"title": "问题", "source": "audit", "department": "d1",
                                                      "deadline": "2026-12-31"}).json()
    complaint = clients["anonymous"].post("/api/v1/complaints", {"text": "反映一个问题"}).json()
    campaign = clients["sec"].post("/api/v1/campaigns", {"name": "专项", "starts_on": "2026-11-01",
                                                         "ends_on": "2026-12-31", "departments": ["d1"]}).json()
    return clients, {"item": item["id"], "task": task["id"], "instance": item["instance_id"],
                     "problem": problem["id"], "complaint": complaint["id"], "campaign": campaign["id"]}


def _call(client, method, path, body):
    if isinstance(body, str):
        return client.request(method, path, data=body.encode(), headers={"Content-Type": "application/xml"})
    return client.request(method, path, json=body)


@BOTH_DATABASES
def test_authorization_matrix(world):
    clients, ids = world
    mismatches = []
    for method, path, body, expected in MATRIX:
        url = path.format(**ids)
        if isinstance(body, dict):
            body = {k: v.format(**ids) if isinstance(v, str) else v for k, v in body.items()}
        for role, want in zip(ROLES, expected):
            response = _call(clients[role], method, url, body)
            if response.status_code != want:
                mismatches.append(f"{method} {path} as {role}: {response.status_code} (want {want}) "
                                  f"{response.text[:120]}")
            if response.status_code >= 400 and "json" in response.headers.get("Content-Type", ""):
                error = response.json()["error"]
                assert set(error) == {"code", "message", "details"} and error["code"]
    assert not mismatches, "\n".join(mismatches)


def test_every_contract_path_is_in_the_matrix(server):
    spec = server.anonymous().get("/api/v1/openapi.json").json()
    tested = {(m, p.split("?")[0]) for m, p, _, _ in MATRIX}
    for path, operations in spec["paths"].items():
        for method in operations:
            template = path.replace("{item_id}", "{item}").replace("{task_id}", "{task}").replace(
                "{instance_id}", "{instance}").replace("{key}", "supervision").replace(
                "{notification_id}", "999999").replace("{timer_id}", "nope").replace(
                    "{effect_id}", "nope").replace(
                "{kind}/{period}", "weekly/2026-W48").replace(
                "{problem_id}", "{problem}").replace("{complaint_id}", "{complaint}").replace(
                    "{campaign_id}", "{campaign}").replace(
                "{username}", "nobody").replace("{file_id}", "nope").replace("{code}", "nope").replace("{year}", "2027").replace(
                "{publication_id}", "999999").replace("{measure_id}", "999999")
            if (method.upper(), template) not in tested and path != "/api/v1/auth/token":
                pytest.fail(f"{method.upper()} {path} has no row in the authorization matrix")


@BOTH_DATABASES
def test_no_leaks_of_other_departments_work(world):
    clients, ids = world
    wang, boss2, ada = clients["wang"], clients["boss2"], clients["ada"]
    for client in (wang, boss2, ada):
        assert client.get("/api/v1/tasks").json() == {"items": [], "total": 0, "overdue": 0}
        assert client.get("/api/v1/items").json() == {"items": [], "total": 0}
        assert client.get("/api/v1/problems").json() == {"items": [], "total": 0}
    assert clients["zhang"].get("/api/v1/items").json()["total"] == 1
    assert clients["zhang"].get("/api/v1/problems").json()["total"] == 1
    assert clients["sup"].get("/api/v1/problems").json()["total"] == 1
    assert clients["boss"].get("/api/v1/items").json()["total"] == 1
    assert clients["sup"].get("/api/v1/items").json()["total"] == 1


@BOTH_DATABASES
def test_designers_design_and_see_no_more_than_the_domain_views(world, server):
    """Issue 13: a designer neither operates live instances nor reads an item's instance it may
    not see; a domain's processes start only through the domain; generic processes still work."""
    from tests.bpmn_snippets import chain, user_task

    clients, ids = world
    ada, sec, admin = clients["ada"], clients["sec"], clients["admin"]
    assert ada.request("POST", "/api/v1/definitions", data=chain("generic", user_task(1)),
                       headers={"Content-Type": "application/xml"}).status_code == 201
    mine = ada.post("/api/v1/instances", {"definition": "generic"})
    assert mine.status_code == 201
    assert ada.get(f"/api/v1/instances/{mine.json()['id']}").status_code == 200

    listed = ada.get("/api/v1/instances").json()
    assert [row["id"] for row in listed["items"]] == [mine.json()["id"]] and listed["total"] == 1
    assert ada.get("/api/v1/instances", params={"definition": "supervision"}).json()["total"] == 0
    assert ada.get("/api/v1/definitions/supervision/instances").json()["items"] == []
    assert ids["instance"] in [row["id"] for row in sec.get("/api/v1/instances").json()["items"]]  # overseers
    assert ada.get("/api/v1/items/{item}".format(**ids)).status_code == 403
    assert ada.get("/api/v1/instances/{instance}".format(**ids)).status_code == 403

    for key in ("supervision", "rectification", "plan_change", "extension", "referral"):
        for client in (ada, sec, admin):
            refused = client.post("/api/v1/instances", {"definition": key, "business_key": ids["item"],
                                                         "variables": {"leader": "zhang"}})
            assert refused.status_code == 403, (key, refused.text)
            assert refused.json()["error"]["details"][0]["code"] == "domain_process"
    assert sec.get("/api/v1/items").json()["total"] == 1

    cancel = ada.post("/api/v1/instances/{instance}/cancel".format(**ids), {"reason": "x"})
    assert cancel.status_code == 403
    assert admin.get("/api/v1/items/{item}".format(**ids)).json()["status"] == "open"
    run = ada.post("/api/v1/definitions/supervision/migrate", {"from_version": 1, "to_version": 2, "dry_run": False})
    assert run.status_code in (403, 404)


@BOTH_DATABASES
def test_the_weekly_report_shows_a_reader_only_the_items_they_may_open(world):
    """Issue 13: a leader read other departments' items in the weekly report though the item
    itself was 403. The report now shows each reader what they may open (overseers: everything)."""
    clients, ids = world
    assert clients["admin"].post("/api/v1/clock/advance", {"seconds": 3600}).status_code == 200

    def listed(client):
        report = client.get("/api/v1/reports/weekly").json()
        rows = [row["item_id"] for group in report["departments"] for row in group["items"]]
        assert report["total"] == len(rows)
        return rows

    for role in ("sec", "sup", "admin", "boss"):  # overseers, and the item's own leader
        assert listed(clients[role]) == [ids["item"]]
        assert clients[role].get("/api/v1/items/{item}".format(**ids)).status_code == 200
    assert listed(clients["boss2"]) == []
    assert clients["boss2"].get("/api/v1/items/{item}".format(**ids)).status_code == 403
    csv = clients["boss2"].get("/api/v1/reports/weekly", params={"format": "csv"})
    assert csv.status_code == 200 and ids["item"] not in csv.text and "DB-" not in csv.text
