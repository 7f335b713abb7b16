"""反映查询 (issue 16): a complaint's short reference, shown to the complainant, and the public
look-up of its state and reply (API and page), limited per address."""
import re

from sqlalchemy import func, select

from tests.conftest import BOTH_DATABASES
from tests.test_api_complaints import TRIAGE_PROBLEM, submit
from workflows.complaints import lookup
from workflows.complaints.models import ComplaintLookup

REFERENCE = re.compile(r"^TS-2026-(\d{6})-[" + lookup.ALPHABET + r"]{4}$")


def look_up(client, ref):
    return client.get("/api/v1/complaints/lookup", params={"ref": ref})


@BOTH_DATABASES
def test_reference_shown_and_looked_up_through_triage_and_dismissal(server):
    anonymous, sec = server.anonymous(), server.login("sec")
    lamp, dog = (submit(anonymous, text).json() for text in ("小区路灯坏了三个月无人修", "隔壁邻居养狗太吵"))
    assert [REFERENCE.match(c["reference"]).group(1) for c in (lamp, dog)] == ["000001", "000002"]

    answered = look_up(anonymous, lamp["reference"])
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "received" and answered.json()["reply"] is None
    # typed loosely: lower case and spaces
    assert look_up(anonymous, " " + lamp["reference"].lower().replace("-", " -")).json()["state"] == "received"

    assert sec.post(f"/api/v1/complaints/{lamp['id']}/triage", TRIAGE_PROBLEM).status_code == 201
    assert look_up(anonymous, lamp["reference"]).json()["state"] == "handling"
    assert sec.post(f"/api/v1/complaints/{dog['id']}/dismiss", {"reason": "不属于督查事项，请向社区反映"}).status_code == 200
    dismissed = look_up(anonymous, dog["reference"]).json()
    assert dismissed["state"] == "dismissed" and dismissed["reply"] == "不属于督查事项，请向社区反映"
    assert set(dismissed) == {"reference", "received_at", "state", "reply", "closed_at"}  # nothing internal

    # the page: the reference after submitting, then the look-up form
    sent = anonymous.request("POST", "/complaints/new", data={"text": "菜市场占道经营"})
    reference = re.search(r'id="complaint-reference">([^<]+)<', sent.text).group(1)
    assert REFERENCE.match(reference) and "反映查询" in sent.text
    page = anonymous.request("POST", "/complaints/lookup", data={"reference": reference})
    assert page.status_code == 200 and "已受理，等待分办" in page.text and reference in page.text
    page = anonymous.request("POST", "/complaints/lookup", data={"reference": dog["reference"]})
    assert "经核实不予立项" in page.text and "不属于督查事项，请向社区反映" in page.text


@BOTH_DATABASES
def test_a_wrong_reference_is_not_found_in_chinese(server):
    anonymous = server.anonymous()
    real = submit(anonymous).json()["reference"]
    wrong_check = real[:-4] + ("2222" if not real.endswith("2222") else "3333")
    for ref in (wrong_check, "TS-2026-000001", "nonsense", real.replace("TS-", "XX-")):
        refused = look_up(anonymous, ref)
        assert refused.status_code == 404, ref
        assert refused.json()["error"]["details"][0]["code"] == "unknown_reference"
        page = anonymous.request("POST", "/complaints/lookup", data={"reference": ref})
        assert page.status_code == 404 and "未找到该受理编号对应的反映" in page.text
    assert look_up(anonymous, "").status_code == 400


def test_lookups_are_limited_per_address(server_factory):
    server = server_factory(complaints={"lookups_per_hour": 3})
    anonymous = server.anonymous()
    ref = submit(anonymous).json()["reference"]
    assert [look_up(anonymous, ref).status_code for _ in range(3)] == [200, 200, 200]
    refused = look_up(anonymous, ref)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    error = refused.json()["error"]  # the shape of the complaint intake's 429
    assert error["code"] == "too_many_requests" and error["details"]["retry_after"] > 0
    page = anonymous.request("POST", "/complaints/lookup", data={"reference": ref})
    assert page.status_code == 429 and "查询过于频繁" in page.text and "Retry-After" in page.headers
    with server.engine.db.read() as session:  # refused look-ups are not counted
        assert session.scalar(select(func.count()).select_from(ComplaintLookup)) == 3
