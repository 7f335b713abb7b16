"""Extension requests (延期申请): before the due time, approved by the leader, applied to the item's
instance after the approval commits; the old escalation time passes quietly, the new one holds."""
import pytest
from sqlalchemy import select

from engine.models import AuditRecord, Effect, Timer
from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM, PLAN
from tests.test_api_escalation import LONG_TOKENS, advance, notifications
from tests.test_api_loop import complete, inbox_task


@pytest.fixture
def server(server_factory):
    return server_factory(**LONG_TOKENS)


def request(client, item, task, **changes):
    body = {"task_id": task["id"], "reason": "需协调市级部门", "new_due": "2026-11-30T18:00:00+08:00",
            "progress": 30, **changes}
    return client.post(f"/api/v1/items/{item['id']}/extension", body)


def _effects(engine):
    with engine.db.read() as session:
        return list(session.scalars(select(Effect)))


def waiting_timers(server, instance_id):
    with server.engine.db.read() as session:
        return [(key, fire_at.isoformat()) for key, fire_at in session.execute(
            select(Timer.task_key, Timer.fire_at).where(Timer.instance_id == instance_id,
                                                        Timer.state == "waiting").order_by(Timer.fire_at))]


@BOTH_DATABASES
def test_an_approved_extension_moves_the_step_and_its_escalation(server):
    sec, zhang, boss, sup = (server.login(u) for u in ("sec", "zhang", "boss", "sup"))
    item = sec.post("/api/v1/items", ITEM).json()
    draft = inbox_task(zhang, "draft_plan", item["id"])
    response = request(zhang, item, draft)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert inbox_task(zhang, "draft_plan", item["id"])["due_at"] == "2026-11-25T10:00:00+00:00"  # not yet
    assert notifications(boss)["items"][0]["kind"] == "extension_requested"

    complete(boss, "approve_extension", item["id"], {"approved": True, "comment": "同意"})
    assert inbox_task(zhang, "draft_plan", item["id"])["due_at"] == "2026-11-30T10:00:00+00:00"
    assert waiting_timers(server, item["instance_id"]) == [
        ("remind_plan", "2026-11-30T01:00:00+00:00"), ("escalate_plan", "2026-11-30T10:00:00+00:00")]
    timeline = sec.get(f"/api/v1/items/{item['id']}").json()["timeline"]
    [moved] = [r for r in timeline if r["kind"] == "task_rescheduled"]
    assert (moved["actor"], moved["instance_id"], moved["data"]["due"]) == (
        "boss", item["instance_id"], "2026-11-30T18:00:00+08:00")
    assert notifications(zhang)["items"][0]["kind"] == "extension_decided"

    advance(server, "2026-11-25T18:00:01+08:00")  # the old due time passes quietly
    assert sup.get("/api/v1/escalations").json()["total"] == 0
    assert sec.get(f"/api/v1/items/{item['id']}").json()["light"] == "green"
    advance(server, "2026-11-30T18:00:01+08:00")  # the new one holds
    [escalation] = sup.get("/api/v1/escalations").json()["items"]
    assert (escalation["task_key"], escalation["overdue_since"]) == ("draft_plan", "2026-11-30T10:00:00+00:00")


def test_a_request_after_the_due_time_is_409(server):
    sec, zhang = server.login("sec"), server.login("zhang")
    item = sec.post("/api/v1/items", ITEM).json()
    draft = inbox_task(zhang, "draft_plan", item["id"])
    advance(server, "2026-11-25T18:00:00+08:00")  # due now: too late
    response = request(zhang, item, draft, new_due="2026-12-04T18:00:00+08:00")
    assert response.status_code == 409, response.text


def test_bad_requests_change_nothing(server):
    sec, zhang = server.login("sec"), server.login("zhang")
    item = sec.post("/api/v1/items", ITEM).json()
    draft = inbox_task(zhang, "draft_plan", item["id"])
    for user, changes, status, field in (
            ("wang", {}, 403, None),                                               # not the lead department
            ("boss", {}, 403, None),
            ("zhang", {"new_due": "2026-11-24T18:00:00+08:00"}, 400, "new_due"),   # not later than due
            ("zhang", {"new_due": "2026-11-30T18:00:00"}, 400, "new_due"),         # no offset
            ("zhang", {"progress": 120}, 400, "progress"),
            ("zhang", {"reason": ""}, 400, "reason"),
            ("zhang", {"task_id": "not-a-task"}, 400, "task_id")):
        response = request(server.login(user), item, draft, **changes)
        assert response.status_code == status, response.text
        if field:
            assert field in [d["field"] for d in response.json()["error"]["details"]]
    assert server.login("admin").get("/api/v1/instances", params={"definition": "extension"}).json()["total"] == 0


def test_one_pending_request_per_step_and_a_rejection_moves_nothing(server):
    sec, zhang, li, boss = (server.login(u) for u in ("sec", "zhang", "li", "boss"))
    item = sec.post("/api/v1/items", ITEM).json()
    draft = inbox_task(zhang, "draft_plan", item["id"])
    assert request(zhang, item, draft).status_code == 202
    assert request(li, item, draft).status_code == 409
    complete(boss, "approve_extension", item["id"], {"approved": False, "comment": "按期完成"})
    assert inbox_task(zhang, "draft_plan", item["id"])["due_at"] == "2026-11-25T10:00:00+00:00"
    assert "不同意" in notifications(zhang)["items"][0]["title"]
    assert request(li, item, draft).status_code == 202  # a new request may follow


def test_an_approval_that_comes_too_late_is_recorded_not_applied(server):
    sec, zhang, boss = (server.login(u) for u in ("sec", "zhang", "boss"))
    item = sec.post("/api/v1/items", ITEM).json()
    draft = inbox_task(zhang, "draft_plan", item["id"])
    assert request(zhang, item, draft).status_code == 202
    complete(zhang, "draft_plan", item["id"], PLAN)  # done before the leader decided
    complete(boss, "approve_extension", item["id"], {"approved": True})
    with server.engine.db.read() as session:
        [record] = session.scalars(select(AuditRecord).where(AuditRecord.kind == "extension_not_applied"))
    assert record.business_key == item["id"] and "already completed" in record.data["reason"]
    [effect] = [e for e in _effects(server.engine) if e.kind == "apply_extension"]
    assert effect.state == "done"
    server.engine.registry.effect_handler("apply_extension")(server.engine, effect.payload, effect)  # a rerun
    with server.engine.db.read() as session:  # records nothing more
        assert len(list(session.scalars(select(AuditRecord).where(AuditRecord.kind == "extension_not_applied")))) == 1
    assert server.login("admin").get("/api/v1/audit/verify").json()["ok"] is True
