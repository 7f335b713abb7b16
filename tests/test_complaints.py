"""Complaint intake and triage under concurrency, through the domain functions."""
import threading

import pytest
from sqlalchemy import func, select

from engine.errors import Conflict
from engine.models import Instance
from tests.conftest import BOTH_DATABASES, REPO, SECRETARY, deploy_shipped
from workflows.complaints import intake, triage
from workflows.complaints.intake import Throttled
from workflows.complaints.models import Complaint
from workflows.rectification.models import Problem

FIELDS = {"title": "路灯不亮", "department": "d2", "deadline": "2026-12-31"}


@pytest.fixture
def rectification(engine):
    return deploy_shipped(engine, "accountability.dmn", "rectification.bpmn")


def at_once(n, fn):
    """Run ``fn(i)`` in ``n`` threads released together; returns (results, errors)."""
    barrier, results, errors = threading.Barrier(n), [], []

    def run(i):
        barrier.wait()
        try:
            results.append(fn(i))
        except Exception as err:  # noqa: BLE001 — collected for the assertions
            errors.append(err)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@BOTH_DATABASES
def test_simultaneous_submissions_from_one_address_stop_at_the_limit(engine):
    results, errors = at_once(10, lambda i: intake.receive(engine, {"text": f"反映 {i}"}, "10.1.1.1", 5))
    assert len(results) == 5 and len(errors) == 5 and all(isinstance(e, Throttled) for e in errors)
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 5


@BOTH_DATABASES
def test_simultaneous_triage_starts_one_process(rectification):
    engine = rectification
    complaint = intake.receive(engine, {"text": "路灯坏了"}, "10.1.1.1", 5)
    results, errors = at_once(4, lambda i: triage.triage_as_problem(engine, complaint.id, FIELDS, SECRETARY))
    assert len(results) == 1 and len(errors) == 3 and all(isinstance(e, Conflict) for e in errors)
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Problem)) == 1
    stored = triage.get(engine, complaint.id)
    assert (stored.state, stored.problem_id) == ("triaged", results[0].id)


def test_a_dismissed_complaint_cannot_be_triaged_even_when_checked_before(rectification, monkeypatch):
    """The guard is the listener's conditional update, not the early check: a dismissal that
    lands between the check and the start leaves no process behind."""
    engine = rectification
    complaint = intake.receive(engine, {"text": "路灯坏了"}, "10.1.1.1", 5)
    original = triage._open

    def check_then_dismiss(engine_, complaint_id):
        row = original(engine_, complaint_id)
        triage.dismiss(engine_, complaint_id, "重复反映", SECRETARY)
        return row
    monkeypatch.setattr(triage, "_open", check_then_dismiss)
    with pytest.raises(Conflict):
        triage.triage_as_problem(engine, complaint.id, FIELDS, SECRETARY)
    with engine.db.read() as session:
        assert [session.scalar(select(func.count()).select_from(m)) for m in (Problem, Instance)] == [0, 0]
    assert triage.get(engine, complaint.id).state == "dismissed"
