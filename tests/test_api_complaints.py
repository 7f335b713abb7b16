"""Public complaints (群众反映): anonymous intake with limits and a throttle, triage, the public page."""
import re

from sqlalchemy import func, select

from engine.models import AuditRecord, Instance
from tests.api_client import Client, Server
from tests.conftest import BOTH_DATABASES
from workflows.complaints.models import Complaint
from workflows.rectification.models import Problem
from workflows.supervision.models import Item

TRIAGE_PROBLEM = {"as": "problem", "title": "小区路灯长期不亮", "department": "d2", "deadline": "2026-12-31"}
TRIAGE_ITEM = {"as": "item", "title": "老旧小区改造进度慢", "department": "d2", "deadline": "2027-03-31",
               "leader": "boss"}


def counts(engine):
    """Rows a refused request must not add."""
    with engine.db.read() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Complaint, Problem, Item, Instance, AuditRecord)}


def assert_error(response, status, code, fields=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and set(error) == {"code", "message", "details"}
    if fields is not None:
        assert [d["field"] for d in error["details"]] == fields, error


def submit(client, text="小区路灯坏了三个月无人修", **fields):
    return client.post("/api/v1/complaints", {"text": text, **fields})


@BOTH_DATABASES
def test_triage_into_a_problem_and_an_item_and_dismiss(server):
    anonymous = server.anonymous()
    sec, sup, zhang, boss = (server.login(u) for u in ("sec", "sup", "zhang", "boss"))
    received = [submit(anonymous, text, contact="13800000000", attachment_name="现场照片.jpg")
                for text in ("小区路灯坏了三个月无人修", "老旧小区改造施工扰民且进度缓慢", "隔壁邻居养狗太吵")]
    assert [r.status_code for r in received] == [201, 201, 201]
    lamp, renovation, dog = (r.json() for r in received)
    assert lamp["status"] == "received" and set(lamp) == {"id", "status", "reference"}

    assert_error(anonymous.get("/api/v1/complaints"), 401, "unauthorized")
    assert_error(anonymous.get(f"/api/v1/complaints/{lamp['id']}"), 401, "unauthorized")
    assert_error(zhang.get("/api/v1/complaints"), 403, "forbidden")
    assert_error(boss.get("/api/v1/complaints"), 403, "forbidden")
    listed = sup.get("/api/v1/complaints", params={"state": "received"}).json()
    assert listed["total"] == 3 and {c["id"] for c in listed["items"]} == {lamp["id"], renovation["id"], dog["id"]}
    assert listed["items"][0]["client"] == "127.0.0.1" and listed["items"][0]["attachment_name"] == "现场照片.jpg"
    assert_error(sup.post(f"/api/v1/complaints/{lamp['id']}/triage", TRIAGE_PROBLEM), 403, "forbidden")

    triaged = sec.post(f"/api/v1/complaints/{lamp['id']}/triage", TRIAGE_PROBLEM)
    assert triaged.status_code == 201, triaged.text
    body = triaged.json()
    assert body["code"] == "ZG-2026-0001" and body["status"] == "open"
    assert body["complaint"]["state"] == "triaged" and body["complaint"]["triaged_as"] == "problem"
    assert body["complaint"]["problem_id"] == body["id"] and body["complaint"]["triaged_by"] == "sec"
    problem = sec.get(f"/api/v1/problems/{body['id']}").json()
    assert (problem["source"], problem["complaint_id"], problem["department"]) == ("complaint", lamp["id"], "d2")
    assert problem["description"] == "小区路灯坏了三个月无人修"
    from_complaints = sec.get("/api/v1/problems", params={"source": "complaint"}).json()["items"]
    assert [p["id"] for p in from_complaints] == [body["id"]]

    as_item = sec.post(f"/api/v1/complaints/{renovation['id']}/triage", {**TRIAGE_ITEM, "co_departments": ["d1"]})
    assert as_item.status_code == 201, as_item.text
    item = sec.get(f"/api/v1/items/{as_item.json()['id']}").json()
    assert item["code"] == "DB-2026-0001" and item["basis"] == "public_complaint" and item["leader"] == "boss"
    assert item["requirements"] == "老旧小区改造施工扰民且进度缓慢" and item["co_departments"] == ["d1"]
    assert sec.get(f"/api/v1/complaints/{renovation['id']}").json()["item_id"] == item["id"]

    dismissed = sec.post(f"/api/v1/complaints/{dog['id']}/dismiss", {"reason": "不属于督查事项，已告知向社区反映"})
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["state"] == "dismissed" and dismissed.json()["dismiss_reason"].startswith("不属于")

    before = counts(server.engine)
    assert_error(sec.post(f"/api/v1/complaints/{lamp['id']}/triage", TRIAGE_PROBLEM), 409, "conflict")
    assert_error(sec.post(f"/api/v1/complaints/{renovation['id']}/triage", TRIAGE_PROBLEM), 409, "conflict")
    assert_error(sec.post(f"/api/v1/complaints/{dog['id']}/triage", TRIAGE_ITEM), 409, "conflict")
    assert_error(sec.post(f"/api/v1/complaints/{lamp['id']}/dismiss", {"reason": "x"}), 409, "conflict")
    assert_error(sec.post(f"/api/v1/complaints/{dog['id']}/dismiss", {"reason": "x"}), 409, "conflict")
    assert_error(sec.post("/api/v1/complaints/nope/triage", TRIAGE_PROBLEM), 404, "not_found")
    assert counts(server.engine) == before
    states = {c["id"]: c["state"] for c in sec.get("/api/v1/complaints").json()["items"]}
    assert states == {lamp["id"]: "triaged", renovation["id"]: "triaged", dog["id"]: "dismissed"}
    audit = sec.get("/api/v1/audit", params={"item_id": lamp["id"]}).json()["items"]
    assert [r["kind"] for r in audit] == ["complaint_received", "complaint_triaged"]
    assert audit[1]["instance_id"] == problem["instance_id"]  # written by the problem's unit of work
    assert server.login("admin").get("/api/v1/audit/verify").json()["ok"] is True


def test_triage_refuses_bad_input_and_changes_nothing(server):
    sec = server.login("sec")
    complaint = submit(server.anonymous()).json()
    before = counts(server.engine)
    url = f"/api/v1/complaints/{complaint['id']}/triage"
    assert_error(sec.post(url, {**TRIAGE_ITEM, "leader": None}), 400, "invalid_input")
    assert_error(sec.post(url, {k: v for k, v in TRIAGE_ITEM.items() if k != "leader"}), 400, "invalid_input",
                 ["leader"])
    assert_error(sec.post(url, {**TRIAGE_ITEM, "leader": "zhang"}), 400, "invalid_input", ["leader"])
    assert_error(sec.post(url, {**TRIAGE_PROBLEM, "department": "nope"}), 400, "invalid_input", ["department"])
    assert_error(sec.post(url, {**TRIAGE_PROBLEM, "as": "memo"}), 400, "invalid_input", ["as"])
    assert_error(sec.post(url, {"as": "problem"}), 400, "invalid_input")
    assert_error(sec.post(f"/api/v1/complaints/{complaint['id']}/dismiss", {"reason": ""}), 400, "invalid_input")
    assert counts(server.engine) == before
    assert sec.get(f"/api/v1/complaints/{complaint['id']}").json()["state"] == "received"


@BOTH_DATABASES
def test_oversize_and_over_long_submissions_store_nothing(server):
    anonymous = server.anonymous()
    before = counts(server.engine)
    huge = b'{"text": "' + b"a" * (server.engine.config["limits"]["max_body_bytes"] + 10) + b'"}'
    assert_error(anonymous.request("POST", "/api/v1/complaints", data=huge,
                                   headers={"Content-Type": "application/json"}), 413, "too_large")
    assert_error(submit(anonymous, "字" * 5001), 400, "invalid_input", ["text"])
    assert_error(submit(anonymous, "   "), 400, "invalid_input", ["text"])
    assert_error(anonymous.post("/api/v1/complaints", {"contact": "x"}), 400, "invalid_input", ["text"])
    assert_error(submit(anonymous, contact="1" * 201), 400, "invalid_input", ["contact"])
    for name in ("../../etc/passwd", "C:\\photo.jpg", "dir/photo.jpg", "..", " photo.jpg", "a\x00.jpg",
                 "x" * 256):
        assert_error(submit(anonymous, attachment_name=name), 400, "invalid_input", ["attachment_name"])
    assert_error(submit(anonymous, extra="x"), 400, "invalid_input", ["extra"])
    assert counts(server.engine) == before
    assert submit(anonymous, "字" * 5000, contact="1" * 200, attachment_name="整改前照片 (1).jpg").status_code == 201
    assert counts(server.engine)["complaint"] == before["complaint"] + 1


@BOTH_DATABASES
def test_over_frequent_submissions_are_refused_across_processes(server, engine_factory):
    """The count is the database's: a second server process on the same database shares it."""
    other_engine = engine_factory()
    other = Server(other_engine)
    try:
        first, second = server.anonymous(), Client(other.base)
        assert [submit(first).status_code for _ in range(3)] == [201] * 3
        server.engine.clock.advance(seconds=600)  # the simulated clock is shared through the database
        assert other_engine.clock.now() == server.engine.clock.now()
        assert [submit(second).status_code for _ in range(2)] == [201] * 2
        before = counts(server.engine)
        for client in (first, second):
            response = submit(client)
            assert_error(response, 429, "too_many_requests")
            assert response.headers["Retry-After"] == "3000"  # the first complaint leaves the hour in 50 min
            assert response.json()["error"]["details"] == {"retry_after": 3000}
        assert counts(server.engine) == before

        server.engine.clock.advance(seconds=3000)  # the first three are now an hour old
        assert [submit(first).status_code for _ in range(3)] == [201] * 3
        response = submit(first)
        assert_error(response, 429, "too_many_requests")
        assert response.headers["Retry-After"] == "600"
    finally:
        other.stop()


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(server, engine_factory):
    anonymous = server.anonymous()
    spoofed = [anonymous.post("/api/v1/complaints", {"text": "反映"}, headers={"X-Forwarded-For": f"10.0.0.{n}"})
               for n in range(6)]
    assert [r.status_code for r in spoofed] == [201] * 5 + [429]  # a forged header does not escape the limit

    proxied_engine = engine_factory(server={"trusted_proxies": 1})
    proxied = Server(proxied_engine)
    try:
        client = Client(proxied.base)
        for address in ("10.0.0.1", "10.0.0.2"):
            statuses = [client.post("/api/v1/complaints", {"text": "反映"},
                                    headers={"X-Forwarded-For": address}).status_code for _ in range(6)]
            assert statuses == [201] * 5 + [429]
        with proxied_engine.db.read() as session:
            clients = session.execute(select(Complaint.client, func.count()).group_by(Complaint.client)).all()
        assert sorted(clients) == [("10.0.0.1", 5), ("10.0.0.2", 5), ("127.0.0.1", 5)]
    finally:
        proxied.stop()


def test_limit_comes_from_configuration(server, engine_factory):
    engine = engine_factory(complaints={"per_hour": 2})
    configured = Server(engine)
    try:
        client = Client(configured.base)
        assert [submit(client).status_code for _ in range(3)] == [201, 201, 429]
    finally:
        configured.stop()


def test_public_page(server):
    anonymous = server.anonymous()
    page = anonymous.get("/complaints/new")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "群众反映问题" in page.text and 'name="text"' in page.text and 'lang="zh-CN"' in page.text
    before = counts(server.engine)

    blank = anonymous.request("POST", "/complaints/new", data={"text": " ", "attachment_name": "../a.jpg"})
    assert blank.status_code == 400 and "请填写反映内容" in blank.text and "只能是文件名本身" in blank.text
    assert 'value="../a.jpg"' in blank.text  # what was typed stays in the form
    long = anonymous.request("POST", "/complaints/new", data={"text": "长" * 5001})
    assert long.status_code == 400 and "反映内容不能超过 5000 个字（当前 5001 个字）" in long.text
    huge = anonymous.request("POST", "/complaints/new",
                             data={"text": "a" * (server.engine.config["limits"]["max_body_bytes"] + 10)})
    assert huge.status_code == 413 and "提交的内容过大" in huge.text
    script = anonymous.request("POST", "/complaints/new", data={"text": "", "contact": "<script>x</script>"})
    assert "<script>x" not in script.text and "&lt;script&gt;x" in script.text
    assert counts(server.engine) == before

    sent = anonymous.request("POST", "/complaints/new",
                             data={"text": "菜市场占道经营", "contact": "王先生", "attachment_name": ""})
    assert sent.status_code == 201 and "提交成功" in sent.text
    reference = re.search(r'id="complaint-reference">(TS-2026-\d{6}-\w{4})<', sent.text).group(1)
    listed = server.login("sec").get("/api/v1/complaints", params={"q": "菜市场"}).json()["items"]
    stored = next(c for c in listed if c["reference"] == reference)
    assert (stored["text"], stored["contact"], stored["attachment_name"], stored["state"]) == (
        "菜市场占道经营", "王先生", None, "received")

    for _ in range(4):
        assert anonymous.request("POST", "/complaints/new", data={"text": "反映"}).status_code == 201
    throttled = anonymous.request("POST", "/complaints/new", data={"text": "又一条"})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3600"
    assert "提交过于频繁" in throttled.text and "60 分钟" in throttled.text and "又一条" in throttled.text
    # the API shares the page's budget: the same address, the same hour
    assert_error(submit(anonymous), 429, "too_many_requests")
