"""The audit chain verifies, and detects an edited, a deleted or a truncated record."""
import pytest
import sqlalchemy as sa

from tests.conftest import BOTH_DATABASES, LEADER, SECRETARY, STAFF
from tests.helpers import PLAN, complete, new_item


def _history(engine):
    item = new_item(engine, SECRETARY)
    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True}, item.id)
    return item


def _tamper(engine, statement):
    with engine.db.write() as session:
        session.execute(sa.text(statement))


@BOTH_DATABASES
def test_chain_verifies(supervision):
    _history(supervision)
    result = supervision.verify_audit()
    assert result == {"ok": True, "count": 5}  # two deploys (decision, process), start, two completions


@BOTH_DATABASES
@pytest.mark.parametrize("statement, seq", [
    ("UPDATE audit SET actor = 'mallory' WHERE seq = 3", 3),
    ("UPDATE audit SET data = '{\"task\": \"forged\"}' WHERE seq = 4", 4),
    ("DELETE FROM audit WHERE seq = 2", 2),
])
def test_tampering_is_reported_at_its_seq(supervision, statement, seq):
    _history(supervision)
    _tamper(supervision, statement)
    result = supervision.verify_audit()
    assert result == {**result, "ok": False, "seq": seq}


@BOTH_DATABASES
def test_truncated_tail_is_reported(supervision):
    _history(supervision)
    last = supervision.verify_audit()["count"]
    _tamper(supervision, f"DELETE FROM audit WHERE seq = {last}")
    result = supervision.verify_audit()
    assert not result["ok"] and result["seq"] == last


def test_records_say_who_did_what(supervision):
    item = _history(supervision)
    with supervision.db.read() as session:
        rows = session.execute(sa.text(
            "SELECT actor, kind FROM audit WHERE business_key = :k ORDER BY seq"), {"k": item.id}).all()
    assert [tuple(r) for r in rows] == [
        ("sec", "instance_started"), ("zhang", "task_completed"), ("boss", "task_completed")]
