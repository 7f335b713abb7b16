"""The department tree (issue 16, item 1): parents and paths, flat data migrated as one level,
and a county's overseers confined to their subtree on SQLite and PostgreSQL."""
import sqlalchemy as sa
from alembic import command
from werkzeug.security import generate_password_hash

from api import schema
from api.models import Department, User
from engine.db import Database
from tests.api_client import PASSWORD
from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM, PLAN
from tests.test_api_loop import complete, inbox_task

LONG_TOKENS = {"auth": {"token_hours": 24 * 366}}
# Under the city's office (a root): two counties, each with a bureau.
TREE = [("ca", "甲县", "office"), ("ca1", "甲县发改局", "ca"), ("cb", "乙县", "office"), ("cb1", "乙县发改局", "cb")]
COUNTY_PEOPLE = {"seca": ("ca", ["secretariat"], "甲县秘书科小吴"), "supa": ("ca", ["supervisor"], "甲县督查员郑"),
                 "staffa": ("ca1", ["staff"], "甲县发改局冯"), "secb": ("cb", ["secretariat"], "乙县秘书科小陈"),
                 "supb": ("cb", ["supervisor"], "乙县督查员褚"), "staffb": ("cb1", ["staff"], "乙县发改局卫")}


def departments(client):
    response = client.get("/api/v1/departments", params={"limit": 200})
    assert response.status_code == 200, response.text
    return [(d["code"], d["parent"], d["depth"]) for d in response.json()["items"]]


def build_tree(server):
    admin = server.login("admin")
    for code, name, parent in TREE:
        response = admin.post("/api/v1/departments", {"code": code, "name": name, "parent": parent})
        assert response.status_code == 201, response.text
    with server.engine.db.write() as session:
        password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        for username, (department, roles, display_name) in COUNTY_PEOPLE.items():
            session.add(User(username=username, password_hash=password_hash, display_name=display_name,
                             department=department, roles=roles, created_at=server.engine.clock.now()))
    return admin


@BOTH_DATABASES
def test_parents_paths_moves_and_refusals(server):
    admin = build_tree(server)
    created = admin.post("/api/v1/departments", {"code": "ca2", "name": "甲县住建局", "parent": "ca"})
    assert created.json() == {"code": "ca2", "name": "甲县住建局", "active": True, "parent": "ca", "depth": 3}
    assert departments(admin) == [("d1", None, 1), ("d2", None, 1), ("office", None, 1), ("ca", "office", 2),
                                  ("ca1", "ca", 3), ("ca2", "ca", 3), ("cb", "office", 2), ("cb1", "cb", 3)]

    def refused(method, path, body, status, code):
        before = departments(admin)
        response = admin.request(method, path, json=body)
        assert response.status_code == status, response.text
        assert [d["code"] for d in response.json()["error"]["details"]] == [code]
        assert departments(admin) == before  # nothing changed

    refused("POST", "/api/v1/departments", {"code": "x", "name": "某", "parent": "nowhere"}, 400, "unknown_department")
    refused("PATCH", "/api/v1/departments/ca", {"parent": "ca1"}, 400, "department_cycle")
    refused("PATCH", "/api/v1/departments/ca", {"parent": "ca"}, 400, "department_cycle")
    refused("PATCH", "/api/v1/departments/ca", {"parent": "nowhere"}, 400, "unknown_department")
    for level, parent in enumerate(("ca1", "l4"), start=4):
        assert admin.post("/api/v1/departments", {"code": f"l{level}", "name": "层", "parent": parent}).status_code == 201
    refused("POST", "/api/v1/departments", {"code": "l6", "name": "层", "parent": "l5"}, 400, "department_too_deep")
    refused("PATCH", "/api/v1/departments/ca", {"parent": "cb1"}, 400, "department_too_deep")  # ca's subtree is 4 deep

    # Moving a county carries its bureaus along (their paths rewritten in the same transaction).
    moved = admin.patch("/api/v1/departments/cb", json={"parent": None, "name": "乙县（直管）"})
    assert moved.status_code == 200 and moved.json()["parent"] is None and moved.json()["depth"] == 1
    assert ("cb1", "cb", 2) in departments(admin)
    with server.engine.db.read() as session:
        assert session.get(Department, "cb1").path == "/cb/cb1/"
        assert session.get(Department, "l5").path == "/office/ca/ca1/l4/l5/"
    assert admin.patch("/api/v1/departments/cb", json={"parent": "ca"}).json()["depth"] == 3
    with server.engine.db.read() as session:
        assert session.get(Department, "cb1").path == "/office/ca/cb/cb1/"
    assert server.login("sec").post("/api/v1/departments", {"code": "y", "name": "某"}).status_code == 403


def test_flat_departments_migrate_as_one_level(tmp_path):
    url = f"sqlite:///{tmp_path / 'flat.db'}"
    db = Database(url)
    config = schema.alembic_config(url)
    with db.write_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0018_inbox")
        connection.execute(sa.text("INSERT INTO department (code, name, active) VALUES "
                                   "('office', '政府办', true), ('d1', '发改委', true)"))
        command.upgrade(config, "heads")
        rows = connection.execute(sa.text("SELECT code, parent_code, path FROM department ORDER BY code")).all()
        connection.commit()
    db.dispose()
    assert [tuple(r) for r in rows] == [("d1", None, "/d1/"), ("office", None, "/office/")]


def _county_items(server):
    """Item A (甲县发改局) and item B (乙县发改局), each registered by its county's office."""
    seca, secb = server.login("seca"), server.login("secb")
    a = seca.post("/api/v1/items", {**ITEM, "department": "ca1", "co_departments": []})
    b = secb.post("/api/v1/items", {**ITEM, "department": "cb1", "co_departments": []})
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    return a.json(), b.json()


@BOTH_DATABASES
def test_a_county_secretariat_cannot_see_another_countys_items(server_factory):
    server = server_factory(**LONG_TOKENS)
    build_tree(server)
    a, b = _county_items(server)
    seca, sec, supa, sup = (server.login(u) for u in ("seca", "sec", "supa", "sup"))

    # Registering for another county's bureau, or moving an item there, is refused; nothing is written.
    outside = seca.post("/api/v1/items", {**ITEM, "department": "cb1", "co_departments": []})
    assert outside.status_code == 403 and outside.json()["error"]["details"][0]["code"] == "outside_subtree"
    outside = seca.post("/api/v1/items", {**ITEM, "department": "ca1", "co_departments": ["d2"]})
    assert outside.status_code == 403
    assert seca.post(f"/api/v1/items/{a['id']}/department", {"department": "cb1"}).status_code == 403

    # The item itself, the list, the lights: county A's office sees A alone; the city both.
    assert seca.get(f"/api/v1/items/{a['id']}").status_code == 200
    assert seca.get(f"/api/v1/items/{b['id']}").status_code == 403
    assert [i["id"] for i in seca.get("/api/v1/items").json()["items"]] == [a["id"]]
    assert seca.get("/api/v1/items", params={"department": "cb1"}).json()["total"] == 0
    assert {i["id"] for i in sec.get("/api/v1/items").json()["items"]} == {a["id"], b["id"]}
    assert {i["id"] for i in sup.get("/api/v1/items").json()["items"]} == {a["id"], b["id"]}
    assert [i["id"] for i in supa.get("/api/v1/items").json()["items"]] == [a["id"]]
    # ?under= : one subtree's items, within the caller's own scope.
    assert [i["id"] for i in sec.get("/api/v1/items", params={"under": "cb"}).json()["items"]] == [b["id"]]
    assert seca.get("/api/v1/items", params={"under": "cb"}).json()["total"] == 0

    # The secretariat's steps (备案): each county's office works its own county's only.
    for county, item in (("a", a), ("b", b)):
        complete(server.login(f"staff{county}"), "draft_plan", item["id"], {**PLAN, "owner": f"staff{county}"})
        complete(server.login("boss"), "approve_plan", item["id"], {"approved": True})
    assert {t["item_id"] for t in seca.get("/api/v1/tasks").json()["items"]} == {a["id"]}
    assert {t["item_id"] for t in sec.get("/api/v1/tasks").json()["items"]} == {a["id"], b["id"]}
    filing_b = inbox_task(server.login("secb"), "file_plan", b["id"])
    assert seca.get(f"/api/v1/tasks/{filing_b['id']}").status_code == 403
    assert seca.post(f"/api/v1/tasks/{filing_b['id']}/claim").status_code == 403
    refused = seca.post(f"/api/v1/tasks/{filing_b['id']}/complete", {"data": {"note": "备案"}})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert inbox_task(server.login("secb"), "file_plan", b["id"])["id"] == filing_b["id"]  # still open
    complete(seca, "file_plan", a["id"], {"note": "备案"})

    # Instances: the generic views show no more than the domain's.
    assert seca.get(f"/api/v1/instances/{b['instance_id']}").status_code == 403
    assert {i["id"] for i in seca.get("/api/v1/instances").json()["items"]} == {a["instance_id"]}


@BOTH_DATABASES
def test_a_county_sees_its_own_problems_and_escalations(server_factory):
    server = server_factory(**LONG_TOKENS)
    build_tree(server)
    seca, secb, sec = (server.login(u) for u in ("seca", "secb", "sec"))
    problem = {"title": "问题", "source": "inspection", "deadline": "2026-12-31"}
    pa = seca.post("/api/v1/problems", {**problem, "department": "ca1"})
    pb = secb.post("/api/v1/problems", {**problem, "department": "cb1"})
    assert pa.status_code == 201 and pb.status_code == 201, (pa.text, pb.text)
    assert seca.post("/api/v1/problems", {**problem, "department": "cb1"}).status_code == 403
    assert [p["id"] for p in seca.get("/api/v1/problems").json()["items"]] == [pa.json()["id"]]
    assert seca.get(f"/api/v1/problems/{pb.json()['id']}").status_code == 403
    assert {p["id"] for p in sec.get("/api/v1/problems").json()["items"]} == {pa.json()["id"], pb.json()["id"]}
    assert [p["id"] for p in sec.get("/api/v1/problems", params={"under": "ca"}).json()["items"]] == [pa.json()["id"]]

    a, b = _county_items(server)
    advance = server.login("admin").post("/api/v1/clock/advance", {"to": "2026-11-25T18:00:01+08:00"})
    assert advance.status_code == 200, advance.text
    supa, sup = server.login("supa"), server.login("sup")
    assert [e["item_id"] for e in supa.get("/api/v1/escalations").json()["items"]] == [a["id"]]
    assert {e["item_id"] for e in sup.get("/api/v1/escalations").json()["items"]} == {a["id"], b["id"]}
    assert {t["item_id"] for t in supa.get("/api/v1/tasks").json()["items"]} == {a["id"]}
    handle_b = inbox_task(server.login("supb"), "handle_escalation", b["id"])
    assert supa.post(f"/api/v1/tasks/{handle_b['id']}/assign", {"username": "supa"}).status_code == 403


@BOTH_DATABASES
def test_the_ranking_of_the_counties_rolls_up_their_bureaus(server_factory):
    server = server_factory(**LONG_TOKENS)
    build_tree(server)
    a, b = _county_items(server)
    complete(server.login("staffa"), "draft_plan", a["id"], {**PLAN, "owner": "staffa"})  # on time
    advance = server.login("admin").post("/api/v1/clock/advance", {"to": "2026-11-26T10:00:00+08:00"})
    assert advance.status_code == 200, advance.text
    complete(server.login("staffb"), "draft_plan", b["id"], {**PLAN, "owner": "staffb"})  # a day late
    reader = server.login("zhang")

    def ranking(**params):
        response = reader.get("/api/v1/reports/ranking", params={"month": "2026-11", **params})
        assert response.status_code == 200, response.text
        return [(r["department"], r["rank"], r["steps_due"], r["steps_on_time"], r["overdue_steps"],
                 r["on_time_rate"]) for r in response.json()["departments"]]

    counties = [("ca", 1, 1, 1, 0, 1.0), ("cb", 2, 1, 0, 1, 0.0)]
    assert ranking(children_of="office") == counties
    assert ranking(level=2) == counties
    assert ranking(children_of="ca") == [("ca1", 1, 1, 1, 0, 1.0)]
    flat = ranking()  # as before: every department but the overseeing offices, each for itself
    assert [row[0] for row in flat] == ["ca1", "cb1", "d1", "d2"]  # (no rate: last)
    seca = server.login("seca")  # a county's overseers rank their own subtree, unless they ask a level
    for path in ("/api/v1/reports/ranking?month=2026-11", "/api/v1/reports/year?year=2026"):
        assert [r["department"] for r in seca.get(path).json()["departments"]] == ["ca1"]
    weekly = server.login("sec").get("/api/v1/reports/weekly", params={"week": "2026-W48", "under": "ca"}).json()
    assert [(g["department"], [i["item_id"] for i in g["items"]]) for g in weekly["departments"]] == [("ca1", [a["id"]])]
    assert weekly["total"] == 1
    year = reader.get("/api/v1/reports/year", params={"year": 2026, "children_of": "office"})
    assert server.login("sec").get("/api/v1/reports/year", params={"year": 2026, "children_of": "office"}).json()[
        "departments"][0]["items_handled"] == 1 and year.status_code == 403  # (staff read no year report)
    for params, field in (({"children_of": "nowhere"}, "children_of"), ({"level": 9}, "level"),
                          ({"level": 2, "children_of": "office"}, "level")):
        refused = reader.get("/api/v1/reports/ranking", params=params)
        assert refused.status_code == 400, refused.text
        assert field in str(refused.json()["error"]["details"]), refused.text
